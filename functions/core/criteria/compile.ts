// Compiles a set of parsed group definitions: resolves membership references (ids ignore case),
// rejects unknown groups and cycles, orders the groups topologically and turns each into a closure.
import { ALL_FIELDS, type FieldDefinition, fieldKey } from '../catalogue.ts';
import { type ProblemDetail, ValidationError } from '../errors.ts';
import { compileFieldLeaf } from './leaves.ts';
import { criteriaOf } from './parse.ts';
import {
  type CompiledGroup,
  type CompiledGroupSet,
  type CriteriaNode,
  type Criterion,
  type EvalContext,
  GROUP_FIELD,
  type GroupDefinition,
  type Predicate,
} from './types.ts';

interface Reference {
  readonly target: string;
  readonly path: string;
}

interface GroupPlan {
  readonly source: GroupDefinition;
  /** Definition with membership values spelled as the referenced groups' ids. */
  readonly definition: GroupDefinition;
  readonly references: readonly Reference[];
}

/**
 * Compiles every definition into one set. Throws ValidationError naming the group and the path of
 * each reference to an unknown group, each cycle, and ids that differ only in case. When
 * `candidateId` is given, problems inside that group carry paths relative to its definition (as a
 * `PUT /v1/groups/{id}` body), problems elsewhere are prefixed with `groups.<id>.`.
 */
export function compileGroups(
  defs: readonly GroupDefinition[],
  options: { readonly candidateId?: string; readonly fields?: readonly FieldDefinition[] } = {},
): CompiledGroupSet {
  const candidate = options.candidateId?.toLowerCase();
  const problems: ProblemDetail[] = [];
  const pathIn = (groupId: string, path: string): string =>
    groupId.toLowerCase() === candidate ? path : `groups.${groupId}.${path}`;

  const byLowerId = new Map<string, GroupDefinition>();
  for (const def of defs) {
    const lower = def.id.toLowerCase();
    const clash = byLowerId.get(lower);
    if (clash !== undefined)
      problems.push({
        path: pathIn(def.id, 'id'),
        message: `"${def.id}" is already group "${clash.id}" (ids ignore case)`,
      });
    else byLowerId.set(lower, def);
  }

  const plans = new Map<string, GroupPlan>();
  for (const def of byLowerId.values()) {
    const references: Reference[] = [];
    const definition = mapLeaves(def, (leaf, path) => {
      if (leaf.field !== GROUP_FIELD) return leaf;
      const values = (leaf.values ?? []).map((value, i) => {
        const target = byLowerId.get(value.toLowerCase());
        if (target === undefined) {
          problems.push({
            path: pathIn(def.id, `${path}.values[${i}]`),
            message: `unknown group "${value}"`,
          });
          return value;
        }
        references.push({ target: target.id, path: `${path}.values[${i}]` });
        return target.id;
      });
      return { ...leaf, values };
    });
    plans.set(def.id, { source: def, definition, references });
  }
  if (problems.length === 0) problems.push(...findCycles(plans, candidate, pathIn));
  if (problems.length > 0) {
    const first = problems[0] as ProblemDetail;
    throw new ValidationError(`Invalid group set: ${first.path}: ${first.message}`, problems);
  }
  return build(topologicalOrder(plans), fieldsByName(options.fields ?? ALL_FIELDS));
}

/**
 * Compiles `candidate` (new or replacing the group of the same id, ignoring case) with the existing
 * groups, so its references and cycles are checked; problems carry paths into the candidate.
 */
export function compileWithCandidate(
  existing: readonly GroupDefinition[],
  candidate: GroupDefinition,
): CompiledGroupSet {
  const lower = candidate.id.toLowerCase();
  const others = existing.filter((d) => d.id.toLowerCase() !== lower);
  return compileGroups([...others, candidate], { candidateId: candidate.id });
}

/** Ids of the groups whose membership criteria reference `id` (deleting it must be refused). */
export function dependentsOf(set: CompiledGroupSet, id: string): string[] {
  const target = set.get(id)?.id;
  return set.groups.filter((g) => target !== undefined && g.dependsOn.includes(target)).map((g) => g.id);
}

function mapLeaves(def: GroupDefinition, fn: (leaf: Criterion, path: string) => Criterion): GroupDefinition {
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

function findCycles(
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
function topologicalOrder(plans: ReadonlyMap<string, GroupPlan>): GroupPlan[] {
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

type FieldsByName = ReadonlyMap<string, readonly FieldDefinition[]>;

function fieldsByName(fields: readonly FieldDefinition[]): FieldsByName {
  const byName = new Map<string, FieldDefinition[]>();
  for (const f of fields) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  return byName;
}

function fieldOf(leaf: Criterion, groupId: string, fields: FieldsByName): FieldDefinition {
  const named = fields.get(leaf.field) ?? [];
  const def =
    leaf.level === undefined
      ? named.length === 1
        ? named[0]
        : undefined
      : named.find((f) => f.level === leaf.level);
  if (def === undefined) {
    throw new ValidationError(`Group "${groupId}" reads field "${leaf.field}", which the catalogue lacks`);
  }
  return def;
}

function build(order: readonly GroupPlan[], fields: FieldsByName): CompiledGroupSet {
  const indexOf = new Map(order.map((p, i) => [p.definition.id, i]));
  const slots = new Map<string, number>();
  const slotOf = (key: string): number => {
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = slots.size;
      slots.set(key, slot);
    }
    return slot;
  };

  const groups: CompiledGroup[] = [];
  const predicates: Predicate[] = [];
  for (const plan of order) {
    const { definition } = plan;
    const reads = new Set<string>();
    let timeBased = false;
    const compileNode = (node: CriteriaNode): Predicate => {
      if ('all' in node) return allOf(node.all.map(compileNode));
      if ('any' in node) return anyOf(node.any.map(compileNode));
      if ('not' in node) {
        const inner = compileNode(node.not);
        return (f, c) => !inner(f, c);
      }
      if (node.field === GROUP_FIELD) {
        const member = memberOfAny((node.values ?? []).map((id) => indexOf.get(id) as number));
        return node.operator === 'Member of group' ? member : (f, c) => !member(f, c);
      }
      const field = fieldOf(node, definition.id, fields);
      const key = fieldKey(field.level, field.name);
      reads.add(key);
      if (node.operator === 'Older than days' || node.operator === 'Within last days') timeBased = true;
      return compileFieldLeaf(field, node, { key, slot: slotOf(key) });
    };
    predicates.push(compileNode(criteriaOf(definition)));
    groups.push({
      id: definition.id,
      definition,
      reads: [...reads],
      dependsOn: [...new Set(plan.references.map((r) => r.target))],
      timeBased,
    });
  }

  const byLowerId = new Map(groups.map((g) => [g.id.toLowerCase(), g]));
  const ctx: EvalContext = {
    now: 0,
    gen: 0,
    textGen: new Int32Array(slots.size),
    text: new Array<string>(slots.size).fill(''),
    results: new Uint8Array(groups.length),
  };
  return {
    groups,
    readKeys: new Set(groups.flatMap((g) => g.reads)),
    hasTimeBased: groups.some((g) => g.timeBased),
    get: (id) => byLowerId.get(id.toLowerCase()),
    predicates,
    ctx,
  };
}

function allOf(ps: readonly Predicate[]): Predicate {
  const [a, b, c] = ps;
  if (ps.length === 1 && a !== undefined) return a;
  if (ps.length === 2 && a !== undefined && b !== undefined) return (f, x) => a(f, x) && b(f, x);
  if (ps.length === 3 && a !== undefined && b !== undefined && c !== undefined) {
    return (f, x) => a(f, x) && b(f, x) && c(f, x);
  }
  return (f, x) => {
    for (let i = 0; i < ps.length; i++) if (!(ps[i] as Predicate)(f, x)) return false;
    return true;
  };
}

function anyOf(ps: readonly Predicate[]): Predicate {
  const [a, b, c] = ps;
  if (ps.length === 1 && a !== undefined) return a;
  if (ps.length === 2 && a !== undefined && b !== undefined) return (f, x) => a(f, x) || b(f, x);
  if (ps.length === 3 && a !== undefined && b !== undefined && c !== undefined) {
    return (f, x) => a(f, x) || b(f, x) || c(f, x);
  }
  return (f, x) => {
    for (let i = 0; i < ps.length; i++) if ((ps[i] as Predicate)(f, x)) return true;
    return false;
  };
}

function memberOfAny(indices: readonly number[]): Predicate {
  const [i0] = indices;
  if (indices.length === 1 && i0 !== undefined) return (_f, c) => c.results[i0] === 1;
  return (_f, c) => {
    for (let i = 0; i < indices.length; i++) if (c.results[indices[i] as number] === 1) return true;
    return false;
  };
}
