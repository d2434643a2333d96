// Compiles a set of parsed group definitions against a catalogue: resolves membership references (ids
// ignore case), rejects fields the catalogue lacks, unknown groups and cycles (group-graph.ts), orders
// the groups topologically and generates one function that evaluates them all (codegen.ts).
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
import { findCycles, type GroupPlan, mapLeaves, type Reference, topologicalOrder } from './group-graph.ts';
import { criteriaOf } from './parse.ts';
import {
  type ClockLeaf,
  type CompiledGroup,
  type CompiledGroupSet,
  type CriteriaNode,
  type Criterion,
  GROUP_FIELD,
  type GroupDefinition,
} from './types.ts';
import { parseDaySpan } from './values.ts';

/**
 * Compiles every definition into one set against `catalogue`. Throws ValidationError naming the group
 * and the path of each field the catalogue lacks, each reference to an unknown group, each cycle, and
 * ids that differ only in case. When `candidateId` is given, problems inside that group carry paths
 * relative to its definition (as a `PUT /v1/groups/{id}` body), problems elsewhere are prefixed with
 * `groups.<id>.`.
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
  const listVars = new Map<string, string>();
  const scope: CodeScope = {
    textVar: (key) => nameFor(textVars, key, 't'),
    instantVar: (key) => nameFor(instantVars, key, 'd'),
    listVar: (key) => nameFor(listVars, key, 'l'),
  };

  const groups: CompiledGroup[] = [];
  const statements: string[] = [];
  const clockLeaves = new Map<string, ClockLeaf>();
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
      if (node.operator === 'Older than days' || node.operator === 'Within last days') {
        timeBased = true;
        const span = parseDaySpan(node.values?.[0] ?? '');
        if (span !== undefined)
          clockLeaves.set(`${key}|${span.ms}|${span.ns}`, { key, spanMs: span.ms, spanNs: span.ns });
      }
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
    ...(textVars.size + listVars.size > 0
      ? [`  let ${[...textVars.values(), ...listVars.values()].join(', ')};`]
      : []),
    ...statements,
    '};',
  ].join('\n');
  const run = new Function('h', source)(helpers) as CompiledGroupSet['run'];

  const byLowerId = new Map(groups.map((g) => [g.id.toLowerCase(), g]));
  return {
    groups,
    readKeys: new Set(groups.flatMap((g) => g.reads)),
    hasTimeBased: groups.some((g) => g.timeBased),
    clockLeaves: [...clockLeaves.values()],
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
