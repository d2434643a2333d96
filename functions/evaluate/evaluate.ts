// The evaluate use case: turns table changes into membership changes and transitions.
// - endpoint reports: evaluated from the stream image when they touch a fact some group reads;
// - company / site changes and group definition changes: re-evaluation jobs walked page by page
//   through the stream (each page checkpointed on the job item, so the walk resumes after a failure);
// - group deletion: a purge job removing its memberships without transitions;
// - the minute tick: a fleet job when some group has time-based criteria.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { GroupStore } from '#adapters/group-store.ts';
import {
  type ApplyInput,
  type JobItem,
  type MembershipStore,
  type PageCursor,
  type Scope,
  StaleEndpointError,
  type Written,
} from '#adapters/membership-store.ts';
import type { Repository, ScopeRef } from '#adapters/repository.ts';
import { compileGroups, evaluate } from '#core/criteria/index.ts';
import type { CompiledGroupSet } from '#core/criteria/types.ts';
import { type EndpointRecord, type ScopeRecord, scopeKey } from '#core/endpoint.ts';
import {
  buildTransition,
  changedEndpointFacts,
  diffMembership,
  endpointChangeMatters,
  factsFor,
  LAST_REPORT_KEY,
  scopeChangeMatters,
} from '#core/membership.ts';

export interface EvaluatorConfig {
  /** How long compiled group definitions are reused before being reloaded. */
  readonly groupCacheMs: number;
  /**
   * Delay before a fleet walk for a changed group starts. Other evaluator instances may judge changes
   * with the old definitions until their cache expires; starting the walk after that means no change
   * they skipped is missed. A single evaluator (the local runtime) reloads on the GROUP record itself
   * and needs no delay.
   */
  readonly fleetDelayMs: number;
  /** Endpoints per fan-out page. */
  readonly pageSize: number;
  /** Time a job may work in one invocation before it checkpoints and hands over to the next record. */
  readonly jobBudgetMs: number;
  /** Days a transition is kept (table TTL). */
  readonly historyDays: number;
  readonly concurrency: number;
}

export const DEFAULT_EVALUATOR_CONFIG: EvaluatorConfig = {
  groupCacheMs: 5_000,
  fleetDelayMs: 5_000,
  pageSize: 200,
  jobBudgetMs: 20_000,
  historyDays: 400,
  concurrency: 16,
};

export interface EvaluatorDeps {
  readonly groups: Pick<GroupStore, 'list'>;
  readonly scopes: Pick<Repository, 'getScopes'>;
  readonly store: MembershipStore;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly config?: Partial<EvaluatorConfig>;
  /** Counts for operators (CloudWatch metrics on Lambda); optional so tests need not care. */
  readonly count?: (metric: EvaluatorMetric, value?: number) => void;
}

export type EvaluatorMetric =
  | 'EndpointsEvaluated'
  | 'IrrelevantChanges'
  | 'TransitionsRecorded'
  | 'EvaluationConflicts'
  | 'JobsStarted'
  | 'JobPages';

/** What one stream record means to the evaluator, decided from its images alone. */
export type Change =
  | { readonly kind: 'endpoint'; readonly before: EndpointRecord | undefined; readonly after: EndpointRecord }
  | {
      readonly kind: 'scope';
      readonly level: 'COMPANY' | 'SITE';
      readonly ref: ScopeRef;
      readonly before: ScopeRecord | undefined;
      readonly after: ScopeRecord | undefined;
    }
  | { readonly kind: 'group'; readonly groupId: string; readonly removed: boolean; readonly changed: boolean }
  | { readonly kind: 'job'; readonly job: JobItem }
  | { readonly kind: 'ignore' };

export interface ChangeRecord {
  readonly id: string;
  readonly change: Change;
}

/** Attempts at one endpoint's evaluation before its record fails (and the stream retries it). */
const MAX_ATTEMPTS = 8;

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function createEvaluator(deps: EvaluatorDeps) {
  const config = { ...DEFAULT_EVALUATOR_CONFIG, ...deps.config };
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const count = deps.count ?? (() => undefined);
  let cache: { set: CompiledGroupSet; loadedAt: number } | undefined;

  async function groupSet(force = false): Promise<CompiledGroupSet> {
    const now = deps.nowMs();
    if (force || cache === undefined || now - cache.loadedAt > config.groupCacheMs) {
      const defs = (await deps.groups.list()).map((g) => g.definition);
      cache = { set: compileGroups(defs), loadedAt: now };
    }
    return cache.set;
  }

  const historyExpiry = () => Math.floor(deps.nowMs() / 1000) + config.historyDays * 86_400;

  /** What one evaluation decided for an endpoint: the write `apply` makes (possibly no change). */
  function plan(
    e: EndpointRecord,
    scopes: Map<string, ScopeRecord>,
    set: CompiledGroupSet,
    requireRev = true,
  ): ApplyInput {
    const siteRef = { companyId: e.companyId, siteId: e.siteId };
    const companyRef = { companyId: e.companyId };
    const site = scopes.get(scopeKey(siteRef));
    const company = scopes.get(scopeKey(companyRef));
    const facts = factsFor(e, site, company);
    count('EndpointsEvaluated');
    const nowMs = deps.nowMs();
    const { changes, dropped } = diffMembership(e.groups, evaluate(set, facts, nowMs), set);
    const occurredAt = new Date(nowMs).toISOString();
    return {
      endpoint: e,
      changes,
      dropped,
      nowIso: occurredAt,
      historyExpiresAt: historyExpiry(),
      requireRev,
      transitions: (chunk, chunkChanges) =>
        chunkChanges.map((c) =>
          buildTransition(c, set, {
            endpoint: e,
            site,
            company,
            facts,
            occurredAt,
            grev: e.grev + 1 + chunk,
          }),
        ),
    };
  }

  /** Member keys carry the company: after a move, member items follow the endpoint first. */
  const needsRehome = (e: EndpointRecord) =>
    (e.groupsCompanyId ?? e.companyId) !== e.companyId && Object.keys(e.groups).length > 0;

  const isNoop = (w: ApplyInput) => w.changes.length === 0 && w.dropped.length === 0;

  /**
   * Whether every group these writes enter is still defined. An instance's definitions may be up to
   * GROUP_CACHE_MS old; a group deleted since must not be entered (nor alerted). Checked by a read
   * rather than inside the transaction, where a check on the group item would make every concurrent
   * entry into that group conflict.
   */
  async function enteredGroupsExist(writes: readonly ApplyInput[]): Promise<boolean> {
    const entered = new Set<string>();
    for (const w of writes) for (const c of w.changes) if (c.event === 'entered') entered.add(c.groupId);
    if (entered.size === 0) return true;
    const existing = await deps.store.existingGroups([...entered]);
    return [...entered].every((id) => existing.has(id));
  }

  /** Membership this instance wrote per endpoint during one stream batch. */
  type WrittenInBatch = Map<string, Written>;

  /**
   * Evaluates one endpoint and writes what changed, guarded by the endpoint's revisions. Company and
   * site data are always read after the endpoint, and every fan-out walk bumps the revision of each
   * endpoint it passes (`touch`), so an evaluation that used company or site data older than a change
   * cannot be written: it finds the endpoint changed, reads everything again and evaluates afresh.
   *
   * A stream record (`written` given) is evaluated from its own image, even when newer reports are
   * already stored, so that a state that lasted only until the next report still records its
   * transitions; its membership is what this batch last wrote for the endpoint, if anything.
   */
  async function evaluateEndpoint(
    start: EndpointRecord,
    startScopes: Map<string, ScopeRecord>,
    startSet: CompiledGroupSet,
    opts: { touch?: boolean; written?: WrittenInBatch } = {},
  ): Promise<number> {
    const mine = opts.written?.get(start.endpointId);
    let endpoint: EndpointRecord | undefined =
      mine !== undefined && mine.grev > start.grev
        ? { ...start, groups: mine.groups, grev: mine.grev }
        : start;
    let fromImage = opts.written !== undefined;
    let scopes = startScopes;
    let set = startSet;
    for (let attempt = 0; endpoint !== undefined; attempt++) {
      const e: EndpointRecord = endpoint;
      try {
        if (needsRehome(e)) {
          await deps.store.rehome(e);
          endpoint = { ...e, grev: e.grev + 1, groupsCompanyId: e.companyId };
          continue;
        }
        const write = plan(e, scopes, set, !fromImage);
        if (isNoop(write) && opts.touch !== true) return 0;
        if (!(await enteredGroupsExist([write]))) {
          set = await groupSet(true);
          continue;
        }
        const written = await deps.store.apply(write);
        opts.written?.set(e.endpointId, written);
        count('TransitionsRecorded', write.changes.length);
        return write.changes.length;
      } catch (err: unknown) {
        if (!(err instanceof StaleEndpointError)) throw err;
        count('EvaluationConflicts');
        if (attempt >= MAX_ATTEMPTS) {
          throw new Error(`endpoint ${start.endpointId} kept changing during evaluation`, { cause: err });
        }
        await sleep(Math.min(1000, 20 * 2 ** attempt) * Math.random());
        // Someone else changed its membership (a fan-out, a redelivery): continue from what is stored.
        fromImage = false;
        endpoint = await deps.store.getEndpoint(e.endpointId);
        if (endpoint !== undefined) scopes = await loadScopes([endpoint]);
        set = await groupSet(true);
      }
    }
    return 0;
  }

  /**
   * Evaluates a fan-out page. Endpoints whose membership changes are written several to a
   * transaction (they share their company and site checks), which is what makes a 10,000-endpoint
   * company change fast; a transaction that loses a race falls back to one endpoint at a time.
   */
  async function evaluatePage(
    endpoints: readonly EndpointRecord[],
    scopes: Map<string, ScopeRecord>,
    set: CompiledGroupSet,
    touch: boolean,
  ): Promise<number> {
    const writes: ApplyInput[] = [];
    const single: EndpointRecord[] = [];
    for (const e of endpoints) {
      if (needsRehome(e)) {
        single.push(e);
        continue;
      }
      const write = plan(e, scopes, set);
      if (touch || !isNoop(write)) writes.push(write);
    }
    if (!(await enteredGroupsExist(writes))) {
      // A group was deleted since these definitions were loaded: evaluate the page again without it.
      return evaluatePage(endpoints, scopes, await groupSet(true), touch);
    }
    let changed = 0;
    const batches = deps.store.packTogether(writes);
    await mapLimit(batches, config.concurrency, async (batch) => {
      try {
        await deps.store.applyTogether(batch);
        const n = batch.reduce((sum, w) => sum + w.changes.length, 0);
        count('TransitionsRecorded', n);
        changed += n;
      } catch (err: unknown) {
        if (!(err instanceof StaleEndpointError)) throw err;
        count('EvaluationConflicts');
        for (const w of batch) changed += await evaluateEndpoint(w.endpoint, scopes, set, { touch });
      }
    });
    await mapLimit(single, config.concurrency, async (e) => {
      changed += await evaluateEndpoint(e, scopes, set, { touch });
    });
    return changed;
  }

  async function loadScopes(endpoints: readonly EndpointRecord[]): Promise<Map<string, ScopeRecord>> {
    const refs: ScopeRef[] = [];
    for (const e of endpoints)
      refs.push({ companyId: e.companyId }, { companyId: e.companyId, siteId: e.siteId });
    return refs.length === 0 ? new Map() : deps.scopes.getScopes(refs, true);
  }

  async function runJob(image: JobItem): Promise<void> {
    if (image.status !== 'running') return;
    const current = await deps.store.getJob(image.jobId);
    // A redelivered or superseded record: the job has moved on (or finished) since this image.
    if (current === undefined || current.status !== 'running' || current.page !== image.page) return;
    const wait = (current.notBefore ?? 0) - deps.nowMs();
    if (wait > 0) await sleep(wait);
    const startedAt = deps.nowMs();
    // A job may exist because definitions changed: it starts from the stored ones, then follows the
    // cache like every evaluation (so a group deleted meanwhile stops being entered within its age).
    if (current.kind === 'evaluate') await groupSet(true);
    let cursor: PageCursor | null = current.cursor;
    let processed = current.processed;
    let changed = 0;
    do {
      if (current.kind === 'purge' && current.groupId !== undefined) {
        const groupId = current.groupId;
        // A group with this id exists again: its own fleet walk decides these memberships now.
        if (await deps.store.groupExists(groupId)) {
          cursor = null;
          break;
        }
        const page = await deps.store.memberPage(groupId, cursor, config.pageSize);
        await mapLimit(page.items, config.concurrency, (m) =>
          deps.store.purgeMember(groupId, m.companyId, m.endpointId),
        );
        processed += page.items.length;
        cursor = page.next;
        count('JobPages');
      } else if (current.scope !== undefined) {
        const set = await groupSet();
        // Endpoints first, then their company and site: see evaluateEndpoint.
        // Walks after a change read consistently (see evaluateEndpoint); the minute tick may read
        // eventually consistent data at half the price: its writes are guarded all the same.
        const touch = current.touch === true;
        const page = await deps.store.endpointsPage(current.scope, cursor, config.pageSize, touch);
        const scopes = await loadScopes(page.items);
        changed += await evaluatePage(page.items, scopes, set, touch);
        processed += page.items.length;
        cursor = page.next;
        count('JobPages');
      } else {
        cursor = null;
      }
    } while (cursor !== null && deps.nowMs() - startedAt < config.jobBudgetMs);
    await deps.store.advanceJob(current, cursor, processed, new Date(deps.nowMs()).toISOString());
    deps.logger.info('job progress', {
      jobId: current.jobId,
      reason: current.reason,
      processed,
      changed,
      done: cursor === null,
    });
  }

  const jobExpiry = () => Math.floor(deps.nowMs() / 1000) + 7 * 86_400;
  const startJob: MembershipStore['createJob'] = async (...args) => {
    await deps.store.createJob(...args);
    count('JobsStarted');
  };

  return {
    config,

    /** Forces the next evaluation to reload group definitions (a definition changed). */
    invalidateGroups() {
      cache = undefined;
    },

    /**
     * Prepares one stream batch: decides from the images which endpoint records can matter (those no
     * group can see cost nothing) and reads their companies and sites once for the whole batch.
     * `handle` then takes the records in stream order with the context returned here.
     */
    async prepare(records: readonly ChangeRecord[]) {
      const endpointChanges = records.filter(
        (r): r is ChangeRecord & { change: Extract<Change, { kind: 'endpoint' }> } =>
          r.change.kind === 'endpoint',
      );
      if (endpointChanges.length === 0)
        return { relevant: new Set<string>(), scopes: new Map<string, ScopeRecord>(), written: new Map() };
      // A routine re-report moves only Last Report. When no group reads it (per the definitions this
      // instance holds, however old: a group reading Last Report is re-evaluated by the minute tick
      // anyway) it is decided here without the group list, so it never costs a table request.
      const decided = new Set<string>();
      const pending = endpointChanges.filter((r) => {
        const changed = changedEndpointFacts(r.change.before, r.change.after);
        const routine = changed !== 'all' && changed.every((k) => k === LAST_REPORT_KEY);
        if (routine && cache !== undefined && !cache.set.readKeys.has(LAST_REPORT_KEY)) decided.add(r.id);
        return !decided.has(r.id);
      });
      const set = pending.length > 0 ? await groupSet() : undefined;
      const relevant = new Set(
        pending
          .filter(
            (r) => set !== undefined && endpointChangeMatters(r.change.before, r.change.after, set.readKeys),
          )
          .map((r) => r.id),
      );
      count('IrrelevantChanges', endpointChanges.length - relevant.size);
      const scopes = await loadScopes(
        endpointChanges.filter((r) => relevant.has(r.id)).map((r) => r.change.after),
      );
      return { relevant, scopes, written: new Map<string, Written>() };
    },

    async handle(
      record: ChangeRecord,
      batch: { relevant: Set<string>; scopes: Map<string, ScopeRecord>; written: Map<string, Written> },
    ) {
      const change = record.change;
      switch (change.kind) {
        case 'endpoint': {
          if (!batch.relevant.has(record.id)) return;
          await evaluateEndpoint(change.after, batch.scopes, await groupSet(), { written: batch.written });
          return;
        }
        case 'scope': {
          const set = await groupSet();
          if (!scopeChangeMatters(change.level, change.before, change.after, set.readKeys)) return;
          const scope: Scope = { kind: 'company', ...change.ref };
          await startJob(
            {
              jobId: `scope-${record.id}`,
              kind: 'evaluate',
              scope,
              touch: true,
              reason: `${change.level} ${JSON.stringify(change.ref)} changed`,
            },
            new Date(deps.nowMs()).toISOString(),
            jobExpiry(),
          );
          return;
        }
        case 'group': {
          cache = undefined;
          if (!change.changed) return;
          const nowIso = new Date(deps.nowMs()).toISOString();
          if (change.removed) {
            await startJob(
              {
                jobId: `purge-${record.id}`,
                kind: 'purge',
                groupId: change.groupId,
                // Instances still holding the deleted definition stop entering it within the cache
                // time; the purge then finds every membership they could have written.
                notBefore: deps.nowMs() + config.fleetDelayMs,
                reason: `group ${change.groupId} deleted`,
              },
              nowIso,
              jobExpiry(),
            );
          } else {
            await startJob(
              {
                jobId: `fleet-${record.id}`,
                kind: 'evaluate',
                scope: { kind: 'fleet' },
                touch: true,
                notBefore: deps.nowMs() + config.fleetDelayMs,
                reason: `group ${change.groupId} saved`,
              },
              nowIso,
              jobExpiry(),
            );
          }
          return;
        }
        case 'job':
          await runJob(change.job);
          return;
        case 'ignore':
          return;
      }
    },

    /** The minute tick: re-evaluates the fleet when the clock alone can change a membership. */
    async tick(): Promise<boolean> {
      const set = await groupSet();
      // Time-based criteria change with the clock; any criterion on Last Report is re-checked here
      // too, since routine re-reports that only move Last Report skip evaluation (see prepare).
      if (!set.hasTimeBased && !set.readKeys.has(LAST_REPORT_KEY)) return false;
      const minute = Math.floor(deps.nowMs() / 60_000);
      await startJob(
        { jobId: `tick-${minute}`, kind: 'evaluate', scope: { kind: 'fleet' }, reason: 'time-based groups' },
        new Date(deps.nowMs()).toISOString(),
        jobExpiry(),
      );
      return true;
    },
  };
}

export type Evaluator = ReturnType<typeof createEvaluator>;
