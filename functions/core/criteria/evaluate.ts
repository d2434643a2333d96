// Evaluates a compiled group set against one endpoint's facts.
import type { CompiledGroupSet, Facts } from './types.ts';

const GEN_LIMIT = 0x7fffffff;

/**
 * Ids of the groups the endpoint is a member of. Groups run in topological order, so a membership
 * criterion sees the result of the group it references. `nowMs` is the clock of the day operators.
 * Not re-entrant per set (the set's scratch space is reused), which a synchronous call never is.
 */
export function evaluate(set: CompiledGroupSet, facts: Facts, nowMs: number): Set<string> {
  const { ctx, predicates, groups } = set;
  ctx.now = nowMs;
  if (ctx.gen === GEN_LIMIT) {
    ctx.textGen.fill(0);
    ctx.gen = 0;
  }
  ctx.gen++;
  const results = ctx.results;
  const members = new Set<string>();
  for (let i = 0; i < predicates.length; i++) {
    if ((predicates[i] as (typeof predicates)[number])(facts, ctx)) {
      results[i] = 1;
      members.add((groups[i] as (typeof groups)[number]).id);
    } else {
      results[i] = 0;
    }
  }
  return members;
}
