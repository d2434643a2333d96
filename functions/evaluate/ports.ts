// What the evaluator needs from storage, as it sees it. The DynamoDB adapters implement these
// (functions/adapters: group-store, repository, fleet-pager, membership-writer, job-store); tests give
// the evaluator the same adapters against DynamoDB Local.
import type { FieldDefinition } from '#core/catalogue.ts';
import type { GroupDefinition } from '#core/criteria/types.ts';
import type { EndpointRecord, ScopeRecord, ScopeRef } from '#core/endpoint.ts';
import type { RecordedChange } from '#core/late-states.ts';
import type { MembershipChange } from '#core/membership.ts';
import type { Transition } from '#core/transition.ts';

/** A range of the fleet's index shards, `from` up to but not including `to`. */
export interface ShardRange {
  readonly from: number;
  readonly to: number;
}

/**
 * A company (or one of its sites), the fleet — all of it (a job that splits itself into segments) or
 * a segment of its index shards — or the endpoints due for re-evaluation by the clock (due instant at
 * or before `untilMs`, the minute tick).
 */
export type Scope =
  | { readonly kind: 'company'; readonly companyId: string; readonly siteId?: string }
  | { readonly kind: 'fleet'; readonly shards?: ShardRange }
  | { readonly kind: 'due'; readonly untilMs: number };

/** Where a paged walk stands: a fleet walk also carries its shard. */
export interface PageCursor {
  readonly shard?: number;
  readonly key?: Record<string, unknown>;
}

export interface Page<T> {
  readonly items: T[];
  readonly next: PageCursor | null;
}

export type JobKind = 'evaluate' | 'purge';

export interface JobItem {
  readonly jobId: string;
  readonly kind: JobKind;
  readonly scope?: Scope;
  readonly groupId?: string;
  readonly cursor: PageCursor | null;
  readonly page: number;
  readonly status: 'running' | 'done';
  readonly notBefore?: number;
  /**
   * Bump every walked endpoint's `grev`, changed or not, so that evaluations in flight that read the
   * data before the change this job applies cannot write their result (company, site and group
   * changes; the minute tick does not need it).
   */
  readonly touch?: boolean;
  readonly reason: string;
  readonly processed: number;
}

/** A job as it is asked for; the store adds its progress fields. */
export type NewJob = Omit<JobItem, 'status' | 'page' | 'cursor' | 'processed'>;

/** One endpoint's evaluated membership change, ready to be written. */
export interface ApplyInput {
  readonly endpoint: EndpointRecord;
  readonly changes: readonly MembershipChange[];
  readonly dropped: readonly string[];
  /** Transitions for `changes`, in the same order; built for membership revision grev + 1 + chunk. */
  readonly transitions: (chunk: number, changes: readonly MembershipChange[]) => Transition[];
  readonly nowIso: string;
  readonly historyExpiresAt: number;
  /** Whether the endpoint's data revision must still be the evaluated one. */
  readonly requireRev: boolean;
  /** The data revision this membership was evaluated from, stored as `mrev`; unset keeps it. */
  readonly mrev?: number;
  /** The due instant to store (endpoint `dueMs`): a number sets it, null removes it, unset keeps it. */
  readonly dueMs?: number | null;
  /** The endpoint's `lastReportRead` stamp to store; unset keeps it. */
  readonly lastReportRead?: boolean;
}

/** An endpoint's membership after a write. */
export interface Written {
  readonly groups: Readonly<Record<string, string>>;
  readonly grev: number;
  readonly mrev?: number;
  readonly dueMs?: number;
  readonly lastReportRead?: boolean;
}

/** The endpoint (or its membership) changed since it was read: read again and evaluate afresh. */
export class StaleEndpointError extends Error {
  override readonly name = 'StaleEndpointError';
}

/** Every group and custom field definition with the set's revision, read together (consistently). */
export interface GroupSetSnapshot {
  readonly groups: readonly { readonly definition: GroupDefinition }[];
  readonly fields: readonly { readonly definition: FieldDefinition }[];
  readonly rev: number;
}

/** Group definitions and the group-side reads the evaluator makes. */
export interface GroupReads {
  snapshot(): Promise<GroupSetSnapshot>;
  /** Which of these groups are defined now (consistent). */
  existingGroups(groupIds: readonly string[]): Promise<Set<string>>;
  groupExists(groupId: string): Promise<boolean>;
  /** Member items of a group, one page. */
  memberPage(
    groupId: string,
    cursor: PageCursor | null,
    limit: number,
  ): Promise<Page<{ readonly endpointId: string; readonly companyId: string }>>;
}

export interface EndpointReads {
  getEndpoint(endpointId: string, consistent: boolean): Promise<EndpointRecord | undefined>;
  /** Every transition recorded for the endpoint (consistent): replays reconcile passed-over reports. */
  endpointHistory(endpointId: string): Promise<(RecordedChange & { readonly occurredAt: string })[]>;
  /** Keyed by `scopeKey`; absent companies and sites are missing from the map. */
  getScopes(refs: readonly ScopeRef[], consistent: boolean): Promise<Map<string, ScopeRecord>>;
}

export interface FleetPager {
  /** One page of the endpoints of a scope, read consistently unless told otherwise. */
  endpointsPage(
    scope: Scope,
    cursor: PageCursor | null,
    limit: number,
    consistent: boolean,
  ): Promise<Page<EndpointRecord>>;
  /** Whether any endpoint is due at or before `untilMs` (one small index read per shard). */
  anyDue(untilMs: number): Promise<boolean>;
}

export interface MembershipWriter {
  /** One endpoint's write, guarded by its revisions (StaleEndpointError otherwise). */
  apply(w: ApplyInput): Promise<Written>;
  /** Writes of different endpoints grouped into transactions that DynamoDB accepts. */
  packTogether(writes: readonly ApplyInput[]): ApplyInput[][];
  /** Several endpoints' writes in one transaction: all or none (StaleEndpointError). */
  applyTogether(batch: readonly ApplyInput[]): Promise<void>;
  /**
   * Moves an endpoint's member items to the company it now belongs to, guarded by its membership
   * revision and, with `requireRev`, by its data revision too.
   */
  rehome(e: EndpointRecord, requireRev: boolean): Promise<void>;
  /**
   * Bumps the membership revision with a write the stream delivers for evaluation after the
   * endpoint's earlier records (writer `walk`), stamping `lastReportRead` as the walk's group set
   * has it; nothing for an endpoint that no longer exists.
   */
  requestEvaluation(endpointId: string, lastReportRead: boolean): Promise<void>;
  /**
   * Records that the endpoint's membership, unchanged, was evaluated from data revision `e.rev`
   * (`mrev`), guarded by its membership revision `e.grev`: true when written; otherwise what is
   * stored now (undefined when the endpoint is gone), so the caller needs no read to go on.
   */
  settle(e: EndpointRecord): Promise<true | { readonly stored: EndpointRecord | undefined }>;
  /**
   * Records transitions of states passed over (late-states.ts), all or none, guarded by the endpoint's
   * membership revision `grev` as the history was read: false when it moved on or one was recorded
   * meanwhile (read again and reconcile afresh).
   */
  recordLate(
    endpointId: string,
    grev: number,
    transitions: readonly Transition[],
    expiresAt: number,
  ): Promise<boolean>;
  /** Removes a deleted group from one endpoint, without a transition. */
  purgeMember(groupId: string, companyId: string, endpointId: string): Promise<void>;
}

export interface JobStore {
  getJob(jobId: string): Promise<JobItem | undefined>;
  /** Creates the job unless one with its id exists (ids derive from stream records). */
  createJob(job: NewJob, nowIso: string, expiresAt: number): Promise<void>;
  /** Records a page as done unless it already was; false for a redelivered page. */
  advanceJob(job: JobItem, next: PageCursor | null, processed: number, nowIso: string): Promise<boolean>;
}
