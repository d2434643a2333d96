// The runner of `evaluate` jobs: re-evaluates the endpoints of a company, a site or the fleet, one
// page per step (company and site changes, group saves, the minute tick).
import type { EndpointEvaluation } from './endpoint-evaluation.ts';
import type { JobRunner } from './job-runner.ts';
import type { FleetPager } from './ports.ts';
import type { RulesetCache } from './ruleset-cache.ts';

export function evaluateJobRunner(deps: {
  readonly rules: RulesetCache;
  readonly fleet: FleetPager;
  readonly evaluation: EndpointEvaluation;
  readonly pageSize: number;
}): JobRunner {
  return {
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
