// Settings and services every part of the evaluator shares: tuning, clock, pause, logger, counters.
import type { Logger } from '@aws-lambda-powertools/logger';

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
  /**
   * Segments a fleet walk is split into: each walks a range of the fleet index's shards as a job of
   * its own, so the segments run on separate invocations side by side.
   */
  readonly fleetSegments: number;
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
  fleetSegments: 16,
  pageSize: 200,
  jobBudgetMs: 20_000,
  historyDays: 400,
  concurrency: 16,
};

export type EvaluatorMetric =
  | 'EndpointsEvaluated'
  | 'IrrelevantChanges'
  | 'TransitionsRecorded'
  | 'EvaluationConflicts'
  | 'MembershipReads'
  | 'SkippedReportsEvaluated'
  | 'LateTransitionsRecorded'
  | 'EvaluationsRequested'
  | 'JobsStarted'
  | 'JobPages';

export interface EvaluatorContext {
  readonly config: EvaluatorConfig;
  readonly nowMs: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly logger: Logger;
  readonly count: (metric: EvaluatorMetric, value?: number) => void;
}

export const nowIso = (ctx: Pick<EvaluatorContext, 'nowMs'>) => new Date(ctx.nowMs()).toISOString();

/** Runs `fn` over `items` with at most `limit` calls in flight. */
/** Runs at most `limit` of the functions it is given at a time, in the order they were given. */
export function limiter(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
