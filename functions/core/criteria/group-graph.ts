// The graph of membership references between groups: each definition with its references resolved,
// cycles found with the path of the reference that closes them, and a topological order.
import type { ProblemDetail } from '../errors.ts';
import type { CriteriaNode, Criterion, GroupDefinition } from './types.ts';

export interface Reference {
  readonly target: string;
  readonly path: string;
}

export interface GroupPlan {
  readonly source: GroupDefinition;
  /** Definition with membership values spelled as the referenced groups' ids. */
  readonly definition: GroupDefinition;
  readonly references: readonly Reference[];
}

/** The definition with `fn` applied to every criterion leaf, which gets the leaf's path. */
export function mapLeaves(
  def: GroupDefinition,
  fn: (leaf: Criterion, path: string) => Criterion,
): GroupDefinition {
  if (def.blocks !== undefined) {
    return {
      ...def,
      blocks: def.blocks.map((block, i) => block.map((leaf, j) => fn(leaf, `blocks[${i}][${j}]`))),
    };
  }
  const walk = (node: CriteriaNode, path: string): CriteriaNode => {
    if ('all' in node) return { all: node.all.map((n, i) => walk(n, `${path}.all[${i}]`)) };
    if ('any' in node) return { any: node.any.map((n, i) => walk(n, `${path}.any[${i}]`)) };
    if ('not' in node) return { not: walk(node.not, `${path}.not`) };
    return fn(node, path);
  };
  return { ...def, criteria: walk(def.criteria, 'criteria') };
}

/** One problem per cycle of references, at the reference of the candidate's group where it has one. */
export function findCycles(
  plans: ReadonlyMap<string, GroupPlan>,
  candidate: string | undefined,
  pathIn: (groupId: string, path: string) => string,
): ProblemDetail[] {
  const problems: ProblemDetail[] = [];
  const state = new Map<string, 'active' | 'done'>();
  const stack: { id: string; via: Reference | undefined }[] = [];
  const reported = new Set<string>();

  const visit = (id: string, via: Reference | undefined): void => {
    const seen = state.get(id);
    if (seen === 'done') return;
    if (seen === 'active') {
      const start = stack.findIndex((s) => s.id === id);
      const cycle = stack.slice(start);
      // Each edge of the cycle: `from` references cycle[k+1] (or `id` again) at `ref.path`.
      const edges = cycle.map((s, k) => ({
        from: s.id,
        ref: (k + 1 < cycle.length ? cycle[k + 1]?.via : via) as Reference,
      }));
      const signature = [...edges.map((e) => e.from)].sort().join('\u0000');
      if (reported.has(signature)) return;
      reported.add(signature);
      const at = edges.findIndex((e) => e.from.toLowerCase() === candidate);
      const rotated = at > 0 ? [...edges.slice(at), ...edges.slice(0, at)] : edges;
      const head = rotated[0] as (typeof edges)[number];
      const names = [...rotated.map((e) => e.from), head.from].join(' → ');
      problems.push({
        path: pathIn(head.from, head.ref.path),
        message: `cycle of group references: ${names}`,
      });
      return;
    }
    state.set(id, 'active');
    stack.push({ id, via });
    for (const ref of plans.get(id)?.references ?? []) visit(ref.target, ref);
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of plans.keys()) visit(id, undefined);
  return problems;
}

/** Depth-first post-order: stable (input order) where references allow. Assumes no cycles. */
export function topologicalOrder(plans: ReadonlyMap<string, GroupPlan>): GroupPlan[] {
  const order: GroupPlan[] = [];
  const done = new Set<string>();
  const visit = (id: string): void => {
    if (done.has(id)) return;
    done.add(id);
    const plan = plans.get(id) as GroupPlan;
    for (const ref of plan.references) visit(ref.target);
    order.push(plan);
  };
  for (const id of plans.keys()) visit(id);
  return order;
}
