// Validation and canonicalisation of one group definition (DESIGN §2) as a client sends it. Checks
// everything that needs no other group; references between groups are checked by compileGroups.
import type { Catalogue } from '../catalogue.ts';
import { type ProblemDetail, ValidationError } from '../errors.ts';
import { isValidId } from '../ids.ts';
import { type Fields, isObject, parseCriterion, type Report } from './criterion.ts';
import {
  type AlertEvent,
  type AlertPolicy,
  type CriteriaNode,
  type Criterion,
  type GroupDefinition,
  SEVERITIES,
  type Severity,
} from './types.ts';

const ALERT_EVENTS: readonly AlertEvent[] = ['enter', 'exit'];
const NAME_MAX = 256;
const DESCRIPTION_MAX = 4096;

/** The criteria of a definition as one tree: `blocks` become `any` of `all`. */
export function criteriaOf(def: GroupDefinition): CriteriaNode {
  if (def.criteria !== undefined) return def.criteria;
  return { any: def.blocks.map((block) => ({ all: block })) };
}

/**
 * Validates a group definition sent for `id` and returns it canonically spelled (field names, levels,
 * operators, options, Flag and Is Blank values, alert events and severity), in the shape it was sent.
 * Throws ValidationError with one `{ path, message }` per problem.
 */
const GROUP_KEYS = new Set(['id', 'name', 'description', 'criteria', 'blocks', 'alert']);
/** Properties the API adds when it answers a group (GET, PUT, the list). */
const READ_ONLY_KEYS = new Set(['updatedAt', 'memberCount', 'warnings']);

export function parseGroupDefinition(id: string, input: unknown, catalogue: Catalogue): GroupDefinition {
  const problems: ProblemDetail[] = [];
  const report: Report = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  const fields = catalogue.fields;

  if (!isValidId(id)) report('id', 'must be 1–128 characters without "/", "?", "#" or whitespace');
  if (!isObject(input)) {
    report('(body)', 'a group definition must be a JSON object');
    throw invalid(problems);
  }
  // A typo (`"alerts"`) must not save a group without its alert. What GET adds is accepted back, so a
  // read definition can be PUT again unchanged.
  for (const key of Object.keys(input)) {
    if (!GROUP_KEYS.has(key) && !READ_ONLY_KEYS.has(key)) report(key, 'is not a known property');
  }
  if (
    input.id !== undefined &&
    (typeof input.id !== 'string' || input.id.toLowerCase() !== id.toLowerCase())
  ) {
    report('id', `must equal the id in the path ("${id}")`);
  }

  const name = input.name;
  if (typeof name !== 'string' || name.trim() === '') report('name', 'is required: a non-empty string');
  else if (name.length > NAME_MAX) report('name', `must be at most ${NAME_MAX} characters`);

  const description = input.description;
  if (description !== undefined && description !== null) {
    if (typeof description !== 'string') report('description', 'must be a string');
    else if (description.length > DESCRIPTION_MAX) {
      report('description', `must be at most ${DESCRIPTION_MAX} characters`);
    }
  }

  let criteria: CriteriaNode | undefined;
  let blocks: Criterion[][] | undefined;
  const hasCriteria = input.criteria !== undefined && input.criteria !== null;
  const hasBlocks = input.blocks !== undefined && input.blocks !== null;
  if (hasCriteria && hasBlocks) report('criteria', 'give either "criteria" or "blocks", not both');
  else if (hasCriteria) criteria = parseNode(input.criteria, 'criteria', report, fields);
  else if (hasBlocks) blocks = parseBlocks(input.blocks, report, fields);
  else report('criteria', 'is required ("criteria" tree or RMM "blocks")');

  const alert = parseAlert(input.alert, report);

  if (problems.length > 0) throw invalid(problems);
  const base = {
    id,
    name: name as string,
    ...(typeof description === 'string' ? { description } : {}),
  };
  const withAlert = alert === undefined ? {} : { alert };
  return blocks !== undefined
    ? { ...base, blocks, ...withAlert }
    : { ...base, criteria: criteria as CriteriaNode, ...withAlert };
}

function invalid(problems: readonly ProblemDetail[]): ValidationError {
  const first = problems[0];
  const where = first === undefined || first.path === '' ? '' : `${first.path}: `;
  return new ValidationError(`Invalid group definition: ${where}${first?.message ?? 'invalid'}`, problems);
}

function parseBlocks(raw: unknown, report: Report, fields: Fields): Criterion[][] | undefined {
  if (!Array.isArray(raw)) {
    report('blocks', 'must be an array of blocks (arrays of criteria)');
    return undefined;
  }
  if (raw.length === 0) report('blocks', 'must not be empty');
  return raw.map((block: unknown, i) => {
    const path = `blocks[${i}]`;
    if (!Array.isArray(block)) {
      report(path, 'a block must be an array of criteria');
      return [];
    }
    if (block.length === 0) report(path, 'a block must not be empty');
    return block.map((c: unknown, j) => parseCriterion(c, `${path}[${j}]`, report, fields));
  });
}

const COMBINATORS = ['all', 'any', 'not'] as const;
function parseNode(raw: unknown, path: string, report: Report, fields: Fields): CriteriaNode {
  if (!isObject(raw)) {
    report(path, 'must be an object: { "all": [...] }, { "any": [...] }, { "not": {...} } or a criterion');
    return { all: [] };
  }
  const keys = Object.keys(raw);
  const combinator = COMBINATORS.find((k) => k in raw);
  if (combinator !== undefined) {
    if (keys.length !== 1) {
      report(path, `a "${combinator}" node must have no other property (found ${keys.join(', ')})`);
      return { all: [] };
    }
    if (combinator === 'not') return { not: parseNode(raw.not, `${path}.not`, report, fields) };
    const children = raw[combinator];
    const childPath = `${path}.${combinator}`;
    if (!Array.isArray(children)) {
      report(childPath, 'must be an array of criteria nodes');
      return { all: [] };
    }
    if (children.length === 0) report(childPath, 'must not be empty');
    const nodes = children.map((c: unknown, i) => parseNode(c, `${childPath}[${i}]`, report, fields));
    return combinator === 'all' ? { all: nodes } : { any: nodes };
  }
  return parseCriterion(raw, path, report, fields);
}

function parseAlert(raw: unknown, report: Report): AlertPolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) {
    report('alert', 'must be an object { "on": ["enter" | "exit"], "severity" }');
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'on' && key !== 'severity') report(`alert.${key}`, 'unknown property of an alert policy');
  }
  const on: AlertEvent[] = [];
  if (!Array.isArray(raw.on)) report('alert.on', 'must be an array of "enter" / "exit"');
  else {
    raw.on.forEach((e: unknown, i) => {
      const event = typeof e === 'string' ? ALERT_EVENTS.find((a) => a === e.toLowerCase()) : undefined;
      if (event === undefined) report(`alert.on[${i}]`, 'must be "enter" or "exit"');
      else if (!on.includes(event)) on.push(event);
    });
  }
  let severity: Severity | undefined;
  if (raw.severity !== undefined && raw.severity !== null) {
    const wanted = typeof raw.severity === 'string' ? raw.severity.toLowerCase() : undefined;
    severity = SEVERITIES.find((s) => s === wanted);
    if (severity === undefined) report('alert.severity', `must be one of ${SEVERITIES.join(', ')}`);
  } else if (on.length > 0) {
    report('alert.severity', 'is required when "alert.on" is not empty');
  }
  return severity === undefined ? { on } : { on, severity };
}
