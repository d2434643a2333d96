// The runner of `evaluate` jobs: re-evaluates the endpoints of a company, a site or the fleet, one
// page per step (company and site changes, group saves, the minute tick).
import { FLEET_SHARDS } from '#adapters/keys.ts';
import type { EndpointEvaluation } from './endpoint-evaluation.ts';
import type { JobRunner } from './job-runner.ts';
import type { FleetPager, JobItem, NewJob, ShardRange } from './ports.ts';
import type { RulesetCache } from './ruleset-cache.ts';

export function evaluateJobRunner(deps: {
  readonly rules: RulesetCache;
  readonly fleet: FleetPager;
  readonly evaluation: EndpointEvaluation;
  readonly pageSize: number;
  readonly fleetSegments: number;
}): JobRunner {
  return {
    // A whole-fleet walk runs as segments of the fleet index's shards, each its own job.
    split(job) {
      if (job.scope?.kind !== 'fleet' || job.scope.shards !== undefined) return undefined;
      return fleetSegments(deps.fleetSegments).map((shards, i) => {
        const { jobId: _id, scope: _scope, reason, ...rest } = newJobOf(job);
        return {
          ...rest,
          jobId: `${job.jobId}-${i}`,
          scope: { kind: 'fleet', shards },
          reason: `${reason} (fleet shards ${shards.from}–${shards.to - 1})`,
        };
      });
    },

    // A job may exist because definitions changed: it starts from the stored ones, then follows the
    // cache like every evaluation (so a group deleted meanwhile stops being entered within its age).
    async begin() {
      await deps.rules.get(true);
    },

    async step(job, cursor) {
      if (job.scope === undefined) return undefined;
      const rules = await deps.rules.get();
      // Endpoints first, then their company and site (see evaluateEndpoint). Walks after a change read
      // consistently; the minute tick may read eventually consistent data at half the price: its
      // writes are guarded all the same.
      const touch = job.touch === true;
      const page = await deps.fleet.endpointsPage(job.scope, cursor, deps.pageSize, touch);
      const scopes = await deps.evaluation.loadScopes(page.items);
      const changed = await deps.evaluation.evaluatePage(page.items, scopes, rules, touch);
      return { next: page.next, processed: page.items.length, changed };
    },
  };
}

/** The fleet index's shards cut into `segments` ranges as even as they divide (at least one). */
export function fleetSegments(segments: number): ShardRange[] {
  const n = Math.max(1, Math.min(FLEET_SHARDS, Math.floor(segments)));
  return Array.from({ length: n }, (_, i) => ({
    from: Math.floor((i * FLEET_SHARDS) / n),
    to: Math.floor(((i + 1) * FLEET_SHARDS) / n),
  }));
}

/** The fields of a job as it was asked for, without its progress. */
function newJobOf(job: JobItem): NewJob {
  return {
    jobId: job.jobId,
    kind: job.kind,
    reason: job.reason,
    ...(job.scope === undefined ? {} : { scope: job.scope }),
    ...(job.groupId === undefined ? {} : { groupId: job.groupId }),
    ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }),
    ...(job.touch === undefined ? {} : { touch: job.touch }),
  };
}
