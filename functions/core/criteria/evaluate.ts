// Evaluates a compiled group set against one endpoint's facts.
import type { CompiledGroupSet, Facts } from './types.ts';

/**
 * Ids of the groups the endpoint is a member of. Groups run in topological order, so a membership
 * criterion sees the result of the group it references. `nowMs` is the clock of the day operators.
 */
export function evaluate(set: CompiledGroupSet, facts: Facts, nowMs: number): Set<string> {
  const members = new Set<string>();
  set.run(facts, nowMs, set.results, members);
  return members;
}
