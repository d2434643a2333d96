// The evaluate use case: turns table changes into membership changes and transitions.
// - endpoint reports: evaluated from the stream image when they touch a fact some group reads;
// - company / site changes and group definition changes: re-evaluation jobs walked page by page
//   through the stream (job-runner.ts);
// - group deletion: a purge job removing its memberships without transitions;
// - the minute tick: a job over the endpoints whose due instant has passed (the due index), when some
//   group has time-based criteria.
// This module only dispatches; the rules live in endpoint-evaluation.ts and the job runners.
import type { Logger } from '@aws-lambda-powertools/logger';
import { fieldKey, type Level } from '#core/catalogue.ts';
import type { EndpointRecord, ScopeRecord, ScopeRef } from '#core/endpoint.ts';
import { changedEndpointFacts, endpointChangeMatters, scopeChangeMatters } from '#core/membership.ts';
import { type Ruleset, readsLastReport } from '#core/ruleset.ts';
import {
  DEFAULT_EVALUATOR_CONFIG,
  type EvaluatorConfig,
  type EvaluatorContext,
  type EvaluatorMetric,
} from './context.ts';
import { createEndpointEvaluation, type WrittenInBatch } from './endpoint-evaluation.ts';
import { evaluateJobRunner } from './evaluate-job.ts';
import { createJobs } from './job-runner.ts';
import type { EndpointReads, FleetPager, GroupReads, JobItem, JobStore, MembershipWriter } from './ports.ts';
import { purgeJobRunner } from './purge-job.ts';
import { createRulesetCache } from './ruleset-cache.ts';

export { DEFAULT_EVALUATOR_CONFIG, type EvaluatorConfig, type EvaluatorMetric };

export interface EvaluatorDeps {
  /** Group and field definitions (the stored catalogue groups are compiled against), and group reads. */
  readonly groups: GroupReads;
  readonly endpoints: EndpointReads;
  readonly fleet: FleetPager;
  readonly writer: MembershipWriter;
  readonly jobs: JobStore;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly config?: Partial<EvaluatorConfig>;
  /** Counts for operators (CloudWatch metrics on Lambda); optional so tests need not care. */
  readonly count?: (metric: EvaluatorMetric, value?: number) => void;
}

/** What one stream record means to the evaluator, decided from its images alone. */
export type Change =
  | {
      readonly kind: 'endpoint';
      readonly before: EndpointRecord | undefined;
      readonly after: EndpointRecord;
      /** A fan-out walk's request to evaluate the endpoint in stream order, not a report. */
      readonly walk?: boolean;
    }
  | {
      readonly kind: 'scope';
      readonly level: 'COMPANY' | 'SITE';
      readonly ref: ScopeRef;
      readonly before: ScopeRecord | undefined;
      readonly after: ScopeRecord | undefined;
    }
  | { readonly kind: 'group'; readonly groupId: string; readonly removed: boolean; readonly changed: boolean }
  | { readonly kind: 'field'; readonly level: Level; readonly name: string; readonly changed: boolean }
  | { readonly kind: 'job'; readonly job: JobItem }
  | { readonly kind: 'ignore' };

export interface ChangeRecord {
  readonly id: string;
  readonly change: Change;
}

/** What `prepare` learnt about a stream batch, for `handle`. */
export interface PreparedBatch {
  readonly relevant: Set<string>;
  readonly scopes: Map<string, ScopeRecord>;
  readonly written: WrittenInBatch;
  /**
   * Per endpoint, its reports in this batch, oldest first (the first record's old image, then each
   * report record's image), and the id of its last report record: where a replay reconciles them.
   */
  readonly reports: Map<string, { readonly images: EndpointRecord[]; readonly lastId: string }>;
  /** Endpoints with a report found already evaluated past. */
  readonly passed: Set<string>;
  /** A parked batch replayed by an operator: passed-over reports' states are recorded late. */
  readonly replay: boolean;
}

type EndpointChangeRecord = ChangeRecord & { change: Extract<Change, { kind: 'endpoint' }> };

/**
 * The endpoint's Last Report stamp disagrees with the group set: evaluated once to rewrite it (after
 * the last group reading Last Report went, its reports would otherwise each reload the group list).
 */
const stampIsStale = (ruleset: Ruleset, e: EndpointRecord) =>
  (e.lastReportRead === true) !== readsLastReport(ruleset);

export function createEvaluator(deps: EvaluatorDeps) {
  const config = { ...DEFAULT_EVALUATOR_CONFIG, ...deps.config };
  const ctx: EvaluatorContext = {
    config,
    nowMs: deps.nowMs,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    logger: deps.logger,
    count: deps.count ?? (() => undefined),
  };
  const rules = createRulesetCache(ctx, { groups: deps.groups });
  const evaluation = createEndpointEvaluation(ctx, {
    rules,
    reads: deps.endpoints,
    groups: deps.groups,
    writer: deps.writer,
  });
  const jobs = createJobs(ctx, deps.jobs, {
    evaluate: evaluateJobRunner({
      rules,
      fleet: deps.fleet,
      evaluation,
      pageSize: config.pageSize,
      fleetSegments: config.fleetSegments,
    }),
    purge: purgeJobRunner({
      groups: deps.groups,
      writer: deps.writer,
      pageSize: config.pageSize,
      concurrency: config.concurrency,
    }),
  });

  /**
   * A routine re-report moves only Last Report. When no group reads it, it is decided without the
   * group list, so it never costs a table request. The definitions this instance holds may be old
   * (routine reports alone never reload them); the endpoint's `lastReportRead` stamp, written by every
   * fleet walk after a group change and by the evaluations since, says when a group reading Last
   * Report exists that they may not know of: such a report takes the usual path.
   */
  function isRoutine(r: EndpointChangeRecord): boolean {
    if (r.change.walk === true || r.change.after.lastReportRead === true) return false;
    const held = rules.peek();
    if (held === undefined || readsLastReport(held)) return false;
    const changed = changedEndpointFacts(held.catalogue, r.change.before, r.change.after);
    return changed !== 'all' && changed.every((k) => k === held.catalogue.lastReportKey);
  }

  /** One report (or walk) record of an endpoint, evaluated from its images when it can matter. */
  async function evaluateReport(
    id: string,
    change: Extract<Change, { kind: 'endpoint' }>,
    batch: PreparedBatch,
  ): Promise<void> {
    if (!batch.relevant.has(id)) return;
    const ruleset = await rules.get();
    // A report that moves only Last Report (the routine daily one, relevant when a group reads
    // it) must stay free of writes when it changes nothing: it does not record its `mrev`.
    const changed = changedEndpointFacts(ruleset.catalogue, change.before, change.after);
    const onlyLastReport = changed !== 'all' && changed.every((k) => k === ruleset.catalogue.lastReportKey);
    await evaluation.evaluateRecord(
      change.after,
      batch.scopes,
      ruleset,
      batch.written,
      change.walk === true,
      !onlyLastReport,
      change.before,
      () => batch.passed.add(change.after.endpointId),
    );
  }

  return {
    config,

    /** Forces the next evaluation to reload group definitions (a definition changed). */
    invalidateGroups() {
      rules.invalidate();
    },

    /**
     * Prepares one stream batch: decides from the images which endpoint records can matter (those no
     * group can see cost nothing) and reads their companies and sites once for the whole batch.
     * `handle` then takes the records in stream order with the context returned here.
     */
    async prepare(records: readonly ChangeRecord[], opts: { replay?: boolean } = {}): Promise<PreparedBatch> {
      const endpointChanges = records.filter((r): r is EndpointChangeRecord => r.change.kind === 'endpoint');
      const pending = endpointChanges.filter((r) => !isRoutine(r));
      const ruleset = pending.length > 0 ? await rules.get() : undefined;
      const relevant = pending.filter(
        (r) =>
          ruleset !== undefined &&
          (r.change.walk === true ||
            endpointChangeMatters(ruleset, r.change.before, r.change.after) ||
            stampIsStale(ruleset, r.change.after)),
      );
      ctx.count('IrrelevantChanges', endpointChanges.length - relevant.length);
      const scopes = await evaluation.loadScopes(relevant.map((r) => r.change.after));
      const reports: PreparedBatch['reports'] = new Map();
      for (const r of endpointChanges) {
        if (r.change.walk === true) continue;
        const { before, after } = r.change;
        const run = reports.get(after.endpointId);
        if (run === undefined) {
          const images = before !== undefined && before.rev === after.rev - 1 ? [before, after] : [after];
          reports.set(after.endpointId, { images, lastId: r.id });
        } else {
          if ((run.images[run.images.length - 1] as EndpointRecord).rev < after.rev) run.images.push(after);
          reports.set(after.endpointId, { images: run.images, lastId: r.id });
        }
      }
      return {
        relevant: new Set(relevant.map((r) => r.id)),
        scopes,
        written: new Map(),
        reports,
        passed: new Set(),
        replay: opts.replay === true,
      };
    },

    async handle(record: ChangeRecord, batch: PreparedBatch): Promise<void> {
      const change = record.change;
      switch (change.kind) {
        case 'endpoint': {
          await evaluateReport(record.id, change, batch);
          const run = batch.reports.get(change.after.endpointId);
          if (batch.replay && run?.lastId === record.id && batch.passed.has(change.after.endpointId)) {
            // A replayed batch: record the states of its reports that the stream passed over while
            // it was parked, once, after the endpoint's last record in it. Only replays: a parked
            // batch comes back no other way, and a redelivery by the stream costs no history read.
            await evaluation.recordLateStates(run.images, batch.scopes, await rules.get());
          }
          return;
        }
        case 'scope': {
          const { groups } = await rules.get();
          if (!scopeChangeMatters(change.level, change.before, change.after, groups.readKeys)) return;
          await jobs.start({
            jobId: `scope-${record.id}`,
            kind: 'evaluate',
            scope: { kind: 'company', ...change.ref },
            touch: true,
            reason: `${change.level} ${JSON.stringify(change.ref)} changed`,
          });
          return;
        }
        case 'group': {
          rules.invalidate();
          if (!change.changed) return;
          // Instances still holding the old definitions follow them until their cache expires; the
          // walk starts after that, so it sees every membership they could have written.
          const notBefore = ctx.nowMs() + config.fleetDelayMs;
          await jobs.start(
            change.removed
              ? {
                  jobId: `purge-${record.id}`,
                  kind: 'purge',
                  groupId: change.groupId,
                  notBefore,
                  reason: `group ${change.groupId} deleted`,
                }
              : {
                  jobId: `fleet-${record.id}`,
                  kind: 'evaluate',
                  scope: { kind: 'fleet' },
                  touch: true,
                  notBefore,
                  reason: `group ${change.groupId} saved`,
                },
          );
          return;
        }
        case 'field': {
          rules.invalidate();
          if (!change.changed) return;
          // A field no group reads changes no membership: adding or editing it costs nothing. One
          // that groups read (its type, options or default changed) re-evaluates the fleet like a
          // group change, with the same delay for instances holding the old catalogue.
          const { groups } = await rules.get(true);
          if (!groups.readKeys.has(fieldKey(change.level, change.name))) return;
          await jobs.start({
            jobId: `fleet-${record.id}`,
            kind: 'evaluate',
            scope: { kind: 'fleet' },
            touch: true,
            notBefore: ctx.nowMs() + config.fleetDelayMs,
            reason: `field ${change.level}:${change.name} changed`,
          });
          return;
        }
        case 'job':
          await jobs.run(change.job);
          return;
        case 'ignore':
          return;
      }
    },

    /**
     * The minute tick: re-evaluates the endpoints whose due instant has passed, when some group has
     * time-based criteria. Each evaluation writes the endpoint's next due instant (or removes it), so
     * an endpoint leaves the index once handled; one a tick did not reach stays due for the next.
     * With nothing due it costs one small index query per shard and nothing else. Without time-based
     * groups, due entries left behind are never read.
     */
    async tick(): Promise<boolean> {
      if (!(await rules.get()).groups.hasTimeBased) return false;
      const nowMs = ctx.nowMs();
      if (!(await deps.fleet.anyDue(nowMs))) return false;
      await jobs.start({
        jobId: `tick-${Math.floor(nowMs / 60_000)}`,
        kind: 'evaluate',
        scope: { kind: 'due', untilMs: nowMs },
        reason: 'time-based groups: endpoints due',
      });
      return true;
    },
  };
}

export type Evaluator = ReturnType<typeof createEvaluator>;
