// A transition: an endpoint entering or leaving a group. Recorded by the evaluator (one item per
// transition, see adapters/keys.ts), published by the notify function when `alert` is true. The
// schema is the one definition: the type derives from it, notify checks stored records with it and
// the read model lists its properties from it.
import * as z from 'zod/mini';
import { SEVERITIES } from './criteria/types.ts';

const TRANSITION_EVENTS = ['entered', 'exited'] as const;

const fieldValue = z.nullable(
  z.union([z.string(), z.number(), z.boolean(), z.readonly(z.array(z.string()))]),
);
const id = z.string().check(z.minLength(1));

export const TransitionSchema = z.object({
  transitionId: id,
  groupId: id,
  groupName: z.string(),
  endpointId: id,
  hostname: z.nullable(z.string()),
  companyId: id,
  siteId: id,
  /** Names where the company / site was PUT with one, else null (alert text then uses the id). */
  companyName: z.nullable(z.string()),
  siteName: z.nullable(z.string()),
  event: z.enum(TRANSITION_EVENTS),
  /** Server time of the recording, ISO-8601 UTC with milliseconds. */
  occurredAt: z.string(),
  /** Whether the group's alert policy asks for an alert on this event. */
  alert: z.boolean(),
  severity: z.nullable(z.enum(SEVERITIES)),
  /** `<LEVEL>:<name>` → value for the fields the group reads (built-ins as `ENDPOINT:<name>`). */
  fields: z.record(z.string(), fieldValue),
  /** The text of the catalogue's status field at the time (BitLocker Key Backup Status), for the e-mail. */
  statusText: z.nullable(z.string()),
  /**
   * The endpoint's report revision the change was evaluated from (its `rev`); absent on transitions
   * recorded before it was kept. A replay uses it to tell which reports' states the history holds.
   */
  reportRev: z.optional(z.nullable(z.number())),
  /**
   * True for a state recorded after the fact: its report was passed over while its stream batch sat in
   * the on-failure queue, and the replay recorded it; `occurredAt` is then the report's `observedAt`.
   */
  recordedLate: z.optional(z.boolean()),
});

export type Transition = Readonly<z.infer<typeof TransitionSchema>>;
export type TransitionEvent = (typeof TRANSITION_EVENTS)[number];
export type { Severity } from './criteria/types.ts';
