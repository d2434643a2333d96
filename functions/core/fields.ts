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
import { parseIsoInstant } from './instant.ts';

/** A validated field update: values to set (canonical) and names to clear. */
export interface FieldChanges {
  readonly set: Readonly<Record<string, FieldValue>>;
  readonly clear: readonly string[];
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A value for a field of this definition: canonical, or the problem to report. */
export function checkValue(
  def: FieldDefinition,
  value: unknown,
): { value: FieldValue } | { problem: string } {
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
