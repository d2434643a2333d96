// Event filter patterns for the two stream consumers. The CDK stack installs them on the event
// source mappings and the local stream poller applies the same patterns, so both see the same records.

import { COUNTED_GROUPS } from '#core/tally.ts';

type Pattern = Record<string, unknown>;

/**
 * evaluate: data changes (endpoint writes by ingest, re-evaluation requests of fan-out walks,
 * companies, sites, groups and field definitions incl. deletion, jobs).
 */
export const EVALUATE_FILTERS: readonly Pattern[] = [
  { dynamodb: { NewImage: { type: { S: ['ENDPOINT'] }, writer: { S: ['ingest', 'walk'] } } } },
  { dynamodb: { NewImage: { type: { S: ['COMPANY', 'SITE', 'GROUP', 'FIELD', 'JOB'] } } } },
  { eventName: ['REMOVE'], dynamodb: { OldImage: { type: { S: ['GROUP', 'FIELD'] } } } },
  // The status page's per-company counters (evaluate/tally-records.ts): transitions of counted groups.
  // (Lambda takes 5 filter patterns per event source mapping by default: this is the fourth.)
  {
    eventName: ['INSERT'],
    dynamodb: { NewImage: { type: { S: ['TRANSITION'] }, groupId: { S: [...COUNTED_GROUPS] } } },
  },
];

/** notify: newly recorded transitions whose group's policy asks for an alert. */
export const NOTIFY_FILTERS: readonly Pattern[] = [
  { eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['TRANSITION'] }, alert: { BOOL: [true] } } } },
];
