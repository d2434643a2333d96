// Validation and canonicalisation of custom-field updates (DESIGN §1): a field update names fields of
// exactly one level; values must fit the field's type; `null` clears.
import {
  type BuiltIn,
  type Catalogue,
  canonicalOption,
  type FieldDefinition,
  type FieldValue,
  type Level,
} from './catalogue.ts';
import type { ProblemDetail } from './errors.ts';

/** A validated field update: values to set (canonical) and names to clear. */
export interface FieldChanges {
  readonly set: Readonly<Record<string, FieldValue>>;
  readonly clear: readonly string[];
}

/** ISO-8601 date-time with an explicit time zone (Z or ±hh:mm). */
const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

export function parseIsoInstant(value: string): number | undefined {
  const m = ISO_WITH_ZONE.exec(value);
  if (m === null) return undefined;
  // Date.parse rolls 2024-02-30 over into March; a day the month does not have is no date.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A key that orders instants exactly, to the nanosecond a client may send (`.123456789`): the UTC
 * date-time to the second, then nine fraction digits, e.g. `2026-11-26T10:00:00.123456000Z`. Keys of
 * the same length compare as strings, which is how DynamoDB's condition orders reports.
 */
export function instantKey(value: string): string | undefined {
  const ms = parseIsoInstant(value);
  const m = ISO_WITH_ZONE.exec(value);
  if (ms === undefined || m === null) return undefined;
  const fraction = (m[5] ?? '').slice(1);
  const wholeSeconds = Math.floor(ms / 1000) * 1000;
  return `${new Date(wholeSeconds).toISOString().slice(0, 19)}.${fraction.padEnd(9, '0')}Z`;
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function checkValue(def: FieldDefinition, value: unknown): { value: FieldValue } | { problem: string } {
  switch (def.type) {
    case 'Flag':
      return typeof value === 'boolean' ? { value } : { problem: 'must be true or false' };
    case 'Number':
      return typeof value === 'number' && Number.isFinite(value)
        ? { value }
        : { problem: 'must be a number' };
    case 'Date': {
      if (typeof value !== 'string' || parseIsoInstant(value) === undefined) {
        return { problem: 'must be an ISO-8601 date-time with a time zone' };
      }
      return { value };
    }
    case 'Dropdown': {
      if (typeof value !== 'string') return { problem: `must be one of: ${def.options?.join(', ')}` };
      const canonical = canonicalOption(def, value);
      return canonical === undefined
        ? { problem: `"${value}" is not an option; expected one of: ${def.options?.join(', ')}` }
        : { value: canonical };
    }
    case 'Text': {
      if (typeof value !== 'string') return { problem: 'must be a string' };
      if (!value.isWellFormed()) return { problem: 'must be valid Unicode text (it holds a lone surrogate)' };
      if (def.maxLength !== undefined && codePointLength(value) > def.maxLength) {
        return { problem: `must be at most ${def.maxLength} characters` };
      }
      return { value };
    }
  }
}

/**
 * Validates a `fields` object against the catalogue at `level`. Problems are appended to `problems`
 * with paths under `path` (e.g. `updates[3].fields.BitLocker Key Backup Status`).
 */
export function validateFields(
  catalogue: Catalogue,
  level: Level,
  input: unknown,
  path: string,
  problems: ProblemDetail[],
): FieldChanges {
  const set: Record<string, FieldValue> = {};
  const clear: string[] = [];
  if (input === undefined) return { set, clear };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    problems.push({ path, message: 'must be an object of field name to value' });
    return { set, clear };
  }
  const defs = catalogue.customAt(level);
  for (const [name, value] of Object.entries(input)) {
    const fieldPath = `${path}.${name}`;
    const def = defs.get(name);
    if (def === undefined) {
      problems.push({ path: fieldPath, message: `unknown ${level} field "${name}"` });
      continue;
    }
    if (value === null) {
      clear.push(name);
      continue;
    }
    const checked = checkValue(def, value);
    if ('problem' in checked) problems.push({ path: fieldPath, message: `${name} ${checked.problem}` });
    else set[name] = checked.value;
  }
  return { set, clear };
}

/**
 * A built-in endpoint property as a status update gives it (`osType`, `endpointType`): its canonical
 * option, matched ignoring case, or the problem to report. A property the catalogue does not define
 * as a Dropdown takes any value.
 */
export function canonicalBuiltIn(
  catalogue: Catalogue,
  property: BuiltIn,
  value: string,
): { value: string } | { problem: string } {
  const def = catalogue.builtIn(property);
  if (def?.options === undefined) return { value };
  const canonical = canonicalOption(def, value);
  return canonical === undefined
    ? { problem: `must be one of: ${def.options.join(', ')}` }
    : { value: canonical };
}

/** Ids: 1–128 characters, none of `/ ? #` or whitespace. */
export const ID_PATTERN = /^[^/?#\s]{1,128}$/u;
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id) && codePointLength(id) <= 128;
}
