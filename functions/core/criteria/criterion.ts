// Validation and canonicalisation of one criterion leaf of a group definition (DESIGN §2): its level,
// field (from the catalogue, or the Group pseudo-field), operator and values.
import { canonicalOption, type FieldDefinition, LEVELS, type Level } from '../catalogue.ts';
import { isValidId } from '../ids.ts';
import { parseIsoDateOrInstant } from '../instant.ts';
import { type Criterion, GROUP_FIELD, OPERATORS, type Operator } from './types.ts';
import { parseDays, parseNumber } from './values.ts';

/** Collects problems. */
export type Report = (path: string, message: string) => void;

/** The fields criteria may name: the catalogue's. */
export type Fields = readonly FieldDefinition[];

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

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

const CRITERION_KEYS: ReadonlySet<string> = new Set(['field', 'level', 'operator', 'values']);

interface FieldMatch {
  /** Undefined for the Group pseudo-field. */
  readonly def: FieldDefinition | undefined;
  readonly name: string;
}

export function parseCriterion(raw: unknown, path: string, report: Report, fields: Fields): Criterion {
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
