// Validation and canonicalisation of one group definition (DESIGN §2) as a client sends it. Checks
// everything that needs no other group; references between groups are checked by compileGroups.
import { type Catalogue, canonicalOption, type FieldDefinition, LEVELS, type Level } from '../catalogue.ts';
import { type ProblemDetail, ValidationError } from '../errors.ts';
import { isValidId } from '../ids.ts';
import { parseIsoDateOrInstant } from '../instant.ts';
import {
  type AlertEvent,
  type AlertPolicy,
  type CriteriaNode,
  type Criterion,
  GROUP_FIELD,
  type GroupDefinition,
  OPERATORS,
  type Operator,
  SEVERITIES,
  type Severity,
} from './types.ts';
import { parseDays, parseNumber } from './values.ts';

const ALERT_EVENTS: readonly AlertEvent[] = ['enter', 'exit'];
const NAME_MAX = 256;
const DESCRIPTION_MAX = 4096;

const TEXT_OPERATORS: ReadonlySet<Operator> = new Set([
  'Contains any of',
  'Does Not Contain any of',
  'Contains all of',
  'Begins with',
  'Ends with',
]);
const ORDER_OPERATORS: ReadonlySet<Operator> = new Set(['Greater than', 'Less than']);
const DAY_OPERATORS: ReadonlySet<Operator> = new Set(['Older than days', 'Within last days']);
const MEMBERSHIP_OPERATORS: ReadonlySet<Operator> = new Set(['Member of group', 'Not member of group']);

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
export function parseGroupDefinition(id: string, input: unknown, catalogue: Catalogue): GroupDefinition {
  const problems: ProblemDetail[] = [];
  const report: Report = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  const fields = catalogue.fields;

  if (!isValidId(id)) report('id', 'must be 1–128 characters without "/", "?", "#" or whitespace');
  if (!isObject(input)) {
    report('', 'a group definition must be a JSON object');
    throw invalid(problems);
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

/** Collects problems. */
type Report = (path: string, message: string) => void;

/** The fields criteria may name: the catalogue's. */
type Fields = readonly FieldDefinition[];

function invalid(problems: readonly ProblemDetail[]): ValidationError {
  const first = problems[0];
  const where = first === undefined || first.path === '' ? '' : `${first.path}: `;
  return new ValidationError(`Invalid group definition: ${where}${first?.message ?? 'invalid'}`, problems);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
const CRITERION_KEYS: ReadonlySet<string> = new Set(['field', 'level', 'operator', 'values']);

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

interface FieldMatch {
  /** Undefined for the Group pseudo-field. */
  readonly def: FieldDefinition | undefined;
  readonly name: string;
}

function parseCriterion(raw: unknown, path: string, report: Report, fields: Fields): Criterion {
  const broken: Criterion = { field: '', operator: 'Equal' };
  if (!isObject(raw)) {
    report(path, 'a criterion must be an object { "field", "level"?, "operator", "values" }');
    return broken;
  }
  for (const key of Object.keys(raw)) {
    if (!CRITERION_KEYS.has(key)) report(`${path}.${key}`, 'unknown property of a criterion');
  }

  const level = parseLevel(raw.level, `${path}.level`, report);
  const field = resolveField(raw.field, level, path, report, fields);
  const operator = parseOperator(raw.operator, `${path}.operator`, report);
  if (field === undefined || operator === undefined) return broken;
  if (level === null) return broken;
  if (!operatorFits(field, operator, `${path}.operator`, report)) return broken;

  const values = parseValues(raw.values, field, operator, `${path}.values`, report);
  const criterion: Criterion = {
    field: field.name,
    ...(level === undefined ? {} : { level }),
    operator,
    ...(values === undefined ? {} : { values }),
  };
  return criterion;
}

/** Undefined: not given; null: given but invalid (already reported). */
function parseLevel(raw: unknown, path: string, report: Report): Level | undefined | null {
  if (raw === undefined) return undefined;
  const level = typeof raw === 'string' ? LEVELS.find((l) => l === raw.toUpperCase()) : undefined;
  if (level === undefined) {
    report(path, `must be one of ${LEVELS.join(', ')}`);
    return null;
  }
  return level;
}

function resolveField(
  raw: unknown,
  level: Level | null | undefined,
  path: string,
  report: Report,
  fields: Fields,
): FieldMatch | undefined {
  if (typeof raw !== 'string' || raw === '') {
    report(`${path}.field`, 'is required: a field name');
    return undefined;
  }
  const wanted = raw.toLowerCase();
  if (wanted === GROUP_FIELD.toLowerCase()) {
    if (level !== undefined) report(`${path}.level`, `"${GROUP_FIELD}" takes no level`);
    return { def: undefined, name: GROUP_FIELD };
  }
  const named = fields.filter((f) => f.name.toLowerCase() === wanted);
  const first = named[0];
  if (first === undefined) {
    report(`${path}.field`, `unknown field "${raw}"`);
    return undefined;
  }
  if (level === null) return undefined;
  if (level === undefined) {
    if (named.length > 1) {
      const levels = named.map((f) => f.level).join(' and ');
      report(`${path}.level`, `"${first.name}" exists at ${levels}: give "level" to pick one`);
      return undefined;
    }
    return { def: first, name: first.name };
  }
  const atLevel = named.find((f) => f.level === level);
  if (atLevel === undefined) {
    const levels = named.map((f) => f.level).join(', ');
    report(`${path}.level`, `"${first.name}" is not a field at ${level} (it is at ${levels})`);
    return undefined;
  }
  return { def: atLevel, name: atLevel.name };
}

function parseOperator(raw: unknown, path: string, report: Report): Operator | undefined {
  const wanted = typeof raw === 'string' ? raw.toLowerCase() : undefined;
  const operator = OPERATORS.find((o) => o.toLowerCase() === wanted);
  if (operator === undefined) {
    report(path, typeof raw === 'string' ? `unknown operator "${raw}"` : 'is required: an operator');
  }
  return operator;
}

function operatorFits(field: FieldMatch, operator: Operator, path: string, report: Report): boolean {
  const def = field.def;
  if (def === undefined) {
    if (MEMBERSHIP_OPERATORS.has(operator)) return true;
    report(path, `"${GROUP_FIELD}" takes only "Member of group" or "Not member of group"`);
    return false;
  }
  const type = def.type;
  let fits: boolean;
  if (MEMBERSHIP_OPERATORS.has(operator)) fits = false;
  else if (TEXT_OPERATORS.has(operator)) fits = type === 'Text' || type === 'Dropdown';
  else if (ORDER_OPERATORS.has(operator)) fits = type === 'Number' || type === 'Date';
  else if (DAY_OPERATORS.has(operator)) fits = type === 'Date';
  else fits = true;
  if (!fits) {
    const only = MEMBERSHIP_OPERATORS.has(operator) ? ` (only on "${GROUP_FIELD}")` : '';
    report(path, `"${operator}" does not fit "${def.name}", a ${type} field${only}`);
  }
  return fits;
}

function parseValues(
  raw: unknown,
  field: FieldMatch,
  operator: Operator,
  path: string,
  report: Report,
): string[] | undefined {
  if (!Array.isArray(raw)) {
    report(path, 'is required: an array of values');
    return undefined;
  }
  const values: string[] = [];
  raw.forEach((v: unknown, i) => {
    if (typeof v === 'string') values.push(v);
    else if (typeof v === 'number' && Number.isFinite(v)) values.push(String(v));
    else if (typeof v === 'boolean') values.push(v ? 'True' : 'False');
    else report(`${path}[${i}]`, 'must be a string, number or boolean');
  });
  if (values.length !== raw.length) return undefined;

  const def = field.def;
  const single = operator === 'Is Blank' || ORDER_OPERATORS.has(operator) || DAY_OPERATORS.has(operator);
  if (single && values.length !== 1) {
    report(path, `"${operator}" takes exactly one value`);
    return undefined;
  }
  if (values.length === 0) {
    report(path, `"${operator}" needs at least one value`);
    return undefined;
  }

  const canonical = values.map((value, i): string => {
    const at = `${path}[${i}]`;
    if (operator === 'Is Blank') return flagText(value, at, report);
    if (def === undefined) {
      if (!isValidId(value)) report(at, `"${value}" is not a group id`);
      return value;
    }
    if (ORDER_OPERATORS.has(operator)) return checkTyped(def, value, at, report);
    if (DAY_OPERATORS.has(operator)) {
      if (parseDays(value) === undefined) report(at, 'must be a non-negative number of days');
      return value;
    }
    if (operator === 'Equal' || operator === 'Not Equal') {
      if (def.type === 'Dropdown') {
        const option = canonicalOption(def, value);
        if (option === undefined) {
          report(at, `"${value}" is not an option of "${def.name}": ${def.options?.join(', ')}`);
        }
        return option ?? value;
      }
      if (def.type === 'Flag') return flagText(value, at, report);
      if (def.type === 'Number' || def.type === 'Date') return checkTyped(def, value, at, report);
    }
    return value;
  });
  return canonical;
}

function flagText(value: string, path: string, report: Report): string {
  const lower = value.toLowerCase();
  if (lower === 'true') return 'True';
  if (lower === 'false') return 'False';
  report(path, 'must be "True" or "False"');
  return value;
}

function checkTyped(def: FieldDefinition, value: string, path: string, report: Report): string {
  if (def.type === 'Number' && parseNumber(value) === undefined) report(path, 'must be a number');
  if (def.type === 'Date' && parseIsoDateOrInstant(value) === undefined) {
    report(path, 'must be an ISO-8601 date or date-time with a time zone');
  }
  return value;
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
