// A transition: an endpoint entering or leaving a group. Recorded by the evaluator (one item per
// transition, see adapters/keys.ts), published by the notify function when `alert` is true.
import type { FieldValue } from './catalogue.ts';

export type TransitionEvent = 'entered' | 'exited';
export type Severity = 'critical' | 'high' | 'medium' | 'low';

export interface Transition {
  readonly transitionId: string;
  readonly groupId: string;
  readonly groupName: string;
  readonly endpointId: string;
  readonly hostname: string | null;
  readonly companyId: string;
  readonly siteId: string;
  /** Names where the company / site was PUT with one, else null (alert text then uses the id). */
  readonly companyName: string | null;
  readonly siteName: string | null;
  readonly event: TransitionEvent;
  /** Server time of the recording, ISO-8601 UTC with milliseconds. */
  readonly occurredAt: string;
  /** Whether the group's alert policy asks for an alert on this event. */
  readonly alert: boolean;
  readonly severity: Severity | null;
  /** `<LEVEL>:<name>` → value for the fields the group reads (built-ins as `ENDPOINT:<name>`). */
  readonly fields: Readonly<Record<string, FieldValue | null>>;
  /** The text of the catalogue's status field at the time (BitLocker Key Backup Status), for the e-mail. */
  readonly statusText: string | null;
}
