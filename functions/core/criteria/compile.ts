// Compiles a set of parsed group definitions: resolves membership references (ids ignore case),
// rejects unknown groups and cycles, orders the groups topologically and turns each into a closure.
import { type Catalogue, type FieldDefinition, fieldKey } from '../catalogue.ts';
import { type ProblemDetail, ValidationError } from '../errors.ts';
import {
  andExpression,
  type CodeScope,
  fieldExpression,
  helpers,
  literal,
  memberExpression,
  orExpression,
} from './codegen.ts';
import { criteriaOf } from './parse.ts';
import {
  type CompiledGroup,
  type CompiledGroupSet,
  type CriteriaNode,
  type Criterion,
  GROUP_FIELD,
  type GroupDefinition,
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
 * Compiles every definition into one set against `catalogue`. Throws ValidationError naming the group
 * and the path of each field the catalogue lacks, each reference to an unknown group, each cycle, and
 * ids that differ only in case. When
 * `candidateId` is given, problems inside that group carry paths relative to its definition (as a
 * `PUT /v1/groups/{id}` body), problems elsewhere are prefixed with `groups.<id>.`.
 */
export function compileGroups(
  defs: readonly GroupDefinition[],
  options: { readonly catalogue: Catalogue; readonly candidateId?: string },
): CompiledGroupSet {
  const fields = fieldsByName(options.catalogue.fields);
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
      if (leaf.field !== GROUP_FIELD) {
        if (fieldOf(leaf, fields) === undefined) {
          const level = leaf.level === undefined ? '' : ` (${leaf.level})`;
          problems.push({
            path: pathIn(def.id, `${path}.field`),
            message: `reads field "${leaf.field}"${level}, which the catalogue lacks`,
          });
        }
        return leaf;
      }
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
  return build(topologicalOrder(plans), fields);
}

/**
 * Compiles `candidate` (new or replacing the group of the same id, ignoring case) with the existing
 * groups, so its references and cycles are checked; problems carry paths into the candidate.
 */
export function compileWithCandidate(
  existing: readonly GroupDefinition[],
  candidate: GroupDefinition,
  catalogue: Catalogue,
): CompiledGroupSet {
  const lower = candidate.id.toLowerCase();
  const others = existing.filter((d) => d.id.toLowerCase() !== lower);
  return compileGroups([...others, candidate], { catalogue, candidateId: candidate.id });
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

function fieldOf(leaf: Criterion, fields: FieldsByName): FieldDefinition | undefined {
  const named = fields.get(leaf.field) ?? [];
  if (leaf.level !== undefined) return named.find((f) => f.level === leaf.level);
  return named.length === 1 ? named[0] : undefined;
}

function build(order: readonly GroupPlan[], fields: FieldsByName): CompiledGroupSet {
  const indexOf = new Map(order.map((p, i) => [p.definition.id, i]));
  const textVars = new Map<string, string>();
  const instantVars = new Map<string, string>();
  const scope: CodeScope = {
    textVar: (key) => nameFor(textVars, key, 't'),
    instantVar: (key) => nameFor(instantVars, key, 'd'),
  };

  const groups: CompiledGroup[] = [];
  const statements: string[] = [];
  order.forEach((plan, position) => {
    const { definition } = plan;
    const reads = new Set<string>();
    let timeBased = false;
    const compileNode = (node: CriteriaNode): Compiled => {
      if ('all' in node) return combine(node.all.map(compileNode), andExpression);
      if ('any' in node) return combine(node.any.map(compileNode), orExpression);
      if ('not' in node) {
        const inner = compileNode(node.not);
        return { code: `!(${inner.code})`, cost: inner.cost };
      }
      if (node.field === GROUP_FIELD) {
        const member = memberExpression((node.values ?? []).map((id) => indexOf.get(id) as number));
        return { code: node.operator === 'Member of group' ? member : `!(${member})`, cost: 1 };
      }
      // compileGroups has reported every field the catalogue lacks before building.
      const field = fieldOf(node, fields) as FieldDefinition;
      const key = fieldKey(field.level, field.name);
      reads.add(key);
      if (node.operator === 'Older than days' || node.operator === 'Within last days') timeBased = true;
      return { code: fieldExpression(field, node, key, scope), cost: leafCost(field, node) };
    };
    const { code } = compileNode(factorCommon(criteriaOf(definition)));
    statements.push(
      `  if (${code}) { r[${position}] = 1; m.add(${literal(definition.id)}); } else { r[${position}] = 0; }`,
    );
    groups.push({
      id: definition.id,
      definition,
      reads: [...reads],
      dependsOn: [...new Set(plan.references.map((r) => r.target))],
      timeBased,
    });
  });

  const source = [
    '"use strict";',
    ...[...instantVars.values()].map((name) => `const ${name} = h.instantReader();`),
    'return function evaluateGroups(f, now, r, m) {',
    ...(textVars.size > 0 ? [`  let ${[...textVars.values()].join(', ')};`] : []),
    ...statements,
    '};',
  ].join('\n');
  const run = new Function('h', source)(helpers) as CompiledGroupSet['run'];

  const byLowerId = new Map(groups.map((g) => [g.id.toLowerCase(), g]));
  return {
    groups,
    readKeys: new Set(groups.flatMap((g) => g.reads)),
    hasTimeBased: groups.some((g) => g.timeBased),
    get: (id) => byLowerId.get(id.toLowerCase()),
    run,
    results: new Uint8Array(groups.length),
    source,
  };
}

function nameFor(names: Map<string, string>, key: string, prefix: string): string {
  let name = names.get(key);
  if (name === undefined) {
    name = `${prefix}${names.size}`;
    names.set(key, name);
  }
  return name;
}

/**
 * Hoists the criteria every alternative of an `any` of `all`s shares (the RMM's blocks repeat them:
 * both blocks of the shipped Enabled group test OS Type and both Disable flags), so they run once:
 * any(all(A, B, X), all(A, B, Y)) = all(A, B, any(X, Y)). Same result, fewer tests.
 */
function factorCommon(node: CriteriaNode): CriteriaNode {
  if ('all' in node) return { all: node.all.map(factorCommon) };
  if ('not' in node) return { not: factorCommon(node.not) };
  if (!('any' in node)) return node;
  const children = node.any.map(factorCommon);
  const alls = children.map((c) => ('all' in c ? c.all : undefined));
  if (children.length < 2 || alls.some((a) => a === undefined)) return { any: children };
  const lists = alls as (readonly CriteriaNode[])[];
  const keyOf = (n: CriteriaNode): string => JSON.stringify(n);
  const common = (lists[0] as readonly CriteriaNode[]).filter((n) =>
    lists.every((list) => list.some((m) => keyOf(m) === keyOf(n))),
  );
  if (common.length === 0) return { any: children };
  const commonKeys = new Set(common.map(keyOf));
  const rests = lists.map((list) => list.filter((n) => !commonKeys.has(keyOf(n))));
  // An alternative left with nothing is always true, and so is the `any`.
  if (rests.some((rest) => rest.length === 0)) return { all: common };
  return { all: [...common, { any: rests.map((rest) => ({ all: rest })) }] };
}

interface Compiled {
  readonly code: string;
  /** Rough cost of one evaluation, to run cheap tests first. */
  readonly cost: number;
}

/**
 * Rough relative cost of a leaf: a strict comparison of a flag or canonical option is cheapest, text
 * operators lower-case and scan, dates parse. Only the order of `all` / `any` children depends on it;
 * both are free of side effects, so any order gives the same result.
 */
function leafCost(field: FieldDefinition, leaf: Criterion): number {
  const n = leaf.values?.length ?? 1;
  if (leaf.operator === 'Is Blank') return 1;
  if (field.type === 'Date') return 6;
  if (field.type === 'Flag' || field.type === 'Number') return 1 + n * 0.1;
  if (leaf.operator === 'Equal' || leaf.operator === 'Not Equal') return 1.5 + n * 0.5;
  return 3 + n;
}

function combine(children: readonly Compiled[], join: (parts: readonly string[]) => string): Compiled {
  const ordered = [...children].sort((x, y) => x.cost - y.cost);
  return { code: join(ordered.map((c) => c.code)), cost: children.reduce((sum, c) => sum + c.cost, 0) };
}
