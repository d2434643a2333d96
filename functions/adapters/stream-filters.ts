// Event filter patterns for the two stream consumers. The CDK stack installs them on the event
// source mappings and the local stream poller applies the same patterns, so both see the same records.

type Pattern = Record<string, unknown>;

/**
 * evaluate: data changes (endpoint writes by ingest, re-evaluation requests of fan-out walks,
 * companies, sites, groups and field definitions incl. deletion, jobs).
 */
export const EVALUATE_FILTERS: readonly Pattern[] = [
  { dynamodb: { NewImage: { type: { S: ['ENDPOINT'] }, writer: { S: ['ingest', 'walk'] } } } },
  { dynamodb: { NewImage: { type: { S: ['COMPANY', 'SITE', 'GROUP', 'FIELD', 'JOB'] } } } },
  { eventName: ['REMOVE'], dynamodb: { OldImage: { type: { S: ['GROUP', 'FIELD'] } } } },
];

/** notify: newly recorded transitions whose group's policy asks for an alert. */
export const NOTIFY_FILTERS: readonly Pattern[] = [
  { eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['TRANSITION'] }, alert: { BOOL: [true] } } } },
];
