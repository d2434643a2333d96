// Custom field definitions as data (`PUT /v1/fields/{level}/{name}`, import): validation and
// canonical spelling of one definition, and the checks a catalogue change must pass against the groups
// that read it. The stored definitions with keywatch's built-ins make the catalogue (catalogueOf).
import {
  type Catalogue,
  FIELD_TYPES,
  type FieldDefinition,
  type FieldType,
  fieldKey,
  LEVELS,
  type Level,
} from './catalogue.ts';
import { compileGroups } from './criteria/compile.ts';
import { isObject } from './criteria/criterion.ts';
import { parseGroupDefinition } from './criteria/parse.ts';
import { GROUP_FIELD, type GroupDefinition } from './criteria/types.ts';
import { type ProblemDetail, ValidationError } from './errors.ts';
import { checkValue } from './fields.ts';
import { BUILT_IN_FIELDS, catalogueOf } from './shipped-catalogue.ts';

/** Longest Text a custom field may hold (the RMM's limit); also the default limit. */
export const MAX_TEXT_LENGTH = 10_000;
const NAME_MAX = 128;
const OPTIONS_MAX = 500;
const OPTION_MAX = 255;
const WRITTEN_VALUES_MAX = 100;
const DESCRIPTION_MAX = 4096;

const DEFINITION_KEYS = new Set([
  'name',
  'level',
  'type',
  'options',
  'default',
  'maxLength',
  'multiValued',
  'writtenValues',
  'description',
]);
/** What the API adds when it answers a field; accepted back so a GET body can be PUT again. */
const READ_ONLY_KEYS = new Set(['updatedAt', 'builtIn']);

/**
 * Type names as RMMs and their exports spell them, to keywatch's: exact names ignoring case and
 * spacing, plus the usual synonyms (`Checkbox` is a Flag, `Text Box` / `Text Area` a Text).
 */
const TYPE_ALIASES: Readonly<Record<string, FieldType>> = {
  dropdown: 'Dropdown',
  list: 'Dropdown',
  select: 'Dropdown',
  picklist: 'Dropdown',
  flag: 'Flag',
  checkbox: 'Flag',
  boolean: 'Flag',
  bool: 'Flag',
  yesno: 'Flag',
  'yes/no': 'Flag',
  'true/false': 'Flag',
  text: 'Text',
  textbox: 'Text',
  textarea: 'Text',
  string: 'Text',
  multiline: 'Text',
  multilinetext: 'Text',
  number: 'Number',
  numeric: 'Number',
  integer: 'Number',
  decimal: 'Number',
  date: 'Date',
  datetime: 'Date',
  'date/time': 'Date',
  datetimepicker: 'Date',
  timestamp: 'Date',
};

/** A field type from any usual spelling (`dropdown`, `Drop Down`, `Checkbox`, `Text Area`). */
export function parseFieldType(raw: unknown): FieldType | undefined {
  if (typeof raw !== 'string') return undefined;
  return TYPE_ALIASES[raw.toLowerCase().replace(/[\s_-]+/g, '')];
}

/** A level from its name, ignoring case and surrounding spaces. */
export function parseLevel(raw: unknown): Level | undefined {
  if (typeof raw !== 'string') return undefined;
  const wanted = raw.trim().toUpperCase();
  return LEVELS.find((l) => l === wanted);
}

const isBuiltInName = (name: string) =>
  name.toLowerCase() === GROUP_FIELD.toLowerCase() ||
  BUILT_IN_FIELDS.some((b) => b.name.toLowerCase() === name.toLowerCase());

/**
 * Validates a field definition for `level` / `name` (from the path; the body may repeat them, equal
 * ignoring case) and returns it canonically spelled. Throws ValidationError with every problem.
 */
export function parseFieldDefinition(levelRaw: string, name: string, input: unknown): FieldDefinition {
  const problems: ProblemDetail[] = [];
  const report = (path: string, message: string) => problems.push({ path, message });
  const level = parseLevel(levelRaw);
  if (level === undefined) report('level', `must be one of ${LEVELS.join(', ')}`);
  if (name.trim() === '' || name !== name.trim()) {
    report('name', 'must be non-blank, without leading or trailing spaces');
  } else if ([...name].length > NAME_MAX) report('name', `must be at most ${NAME_MAX} characters`);
  else if (isBuiltInName(name)) report('name', `"${name}" is a built-in property; choose another name`);
  if (!isObject(input)) {
    report('(body)', 'a field definition must be a JSON object');
    throw invalid(problems);
  }
  for (const key of Object.keys(input)) {
    if (!DEFINITION_KEYS.has(key) && !READ_ONLY_KEYS.has(key)) report(key, 'is not a known property');
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name !== name)) {
    report('name', `must equal the name in the path ("${name}")`);
  }
  if (input.level !== undefined && parseLevel(input.level) !== level) {
    report('level', `must equal the level in the path ("${levelRaw}")`);
  }
  const type = parseFieldType(input.type);
  if (type === undefined) report('type', `is required: one of ${FIELD_TYPES.join(', ')}`);

  let options: string[] | undefined;
  if (input.options !== undefined && input.options !== null) {
    if (type !== 'Dropdown') report('options', 'only a Dropdown has options');
    else options = parseOptions(input.options, report);
  } else if (type === 'Dropdown') report('options', 'is required for a Dropdown: an array of texts');

  let maxLength: number | undefined;
  if (input.maxLength !== undefined && input.maxLength !== null) {
    const m = input.maxLength;
    if (type !== 'Text') report('maxLength', 'only a Text has a maximum length');
    else if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > MAX_TEXT_LENGTH) {
      report('maxLength', `must be an integer from 1 to ${MAX_TEXT_LENGTH}`);
    } else maxLength = m;
  } else if (type === 'Text') maxLength = MAX_TEXT_LENGTH;

  if (input.multiValued !== undefined && input.multiValued !== null && input.multiValued !== false) {
    report('multiValued', 'only built-ins are multi-valued (Installed Software, Machine Roles)');
  }

  let writtenValues: string[] | undefined;
  if (input.writtenValues !== undefined && input.writtenValues !== null) {
    const w = input.writtenValues;
    if (type !== 'Text') report('writtenValues', 'only a Text lists the values its writers produce');
    else if (!Array.isArray(w) || w.length === 0 || w.length > WRITTEN_VALUES_MAX) {
      report('writtenValues', `must be an array of 1–${WRITTEN_VALUES_MAX} texts`);
    } else {
      w.forEach((v: unknown, i) => {
        if (typeof v !== 'string') report(`writtenValues[${i}]`, 'must be a string');
        else if (maxLength !== undefined && [...v].length > maxLength) {
          report(`writtenValues[${i}]`, `is longer than maxLength (${maxLength})`);
        }
      });
      writtenValues = w.filter((v): v is string => typeof v === 'string');
    }
  }

  const description = input.description;
  if (description !== undefined && description !== null) {
    if (typeof description !== 'string' || description.length > DESCRIPTION_MAX) {
      report('description', `must be a string of at most ${DESCRIPTION_MAX} characters`);
    }
  }

  if (problems.length > 0 || level === undefined || type === undefined) throw invalid(problems);
  const def: FieldDefinition = {
    name,
    level,
    type,
    ...(options === undefined ? {} : { options }),
    ...(maxLength === undefined ? {} : { maxLength }),
    ...(writtenValues === undefined ? {} : { writtenValues }),
    ...(typeof description === 'string' ? { description } : {}),
  };
  if (input.default === undefined || input.default === null) return def;
  const checked = checkValue(def, input.default);
  if ('problem' in checked) throw invalid([{ path: 'default', message: checked.problem }]);
  return { ...def, default: checked.value };
}

function parseOptions(raw: unknown, report: (path: string, message: string) => void): string[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > OPTIONS_MAX) {
    report('options', `must be an array of 1–${OPTIONS_MAX} texts`);
    return undefined;
  }
  const seen = new Set<string>();
  raw.forEach((o: unknown, i) => {
    if (typeof o !== 'string' || o.trim() === '' || [...o].length > OPTION_MAX) {
      report(`options[${i}]`, `must be a non-blank text of at most ${OPTION_MAX} characters`);
    } else if (seen.has(o.toLowerCase())) report(`options[${i}]`, `"${o}" is listed twice (case ignored)`);
    else seen.add(o.toLowerCase());
  });
  return raw.filter((o): o is string => typeof o === 'string');
}

function invalid(problems: readonly ProblemDetail[]): ValidationError {
  const first = problems[0];
  return new ValidationError(
    `Invalid field definition: ${first === undefined ? 'invalid' : `${first.path}: ${first.message}`}`,
    problems,
  );
}

/** A field definition as the API answers it (the stored shape; built-ins say so). */
export function fieldView(def: FieldDefinition) {
  const { aliases: _a, ...rest } = def;
  return rest;
}

/** Which custom field (of these) has the same name at the same level, ignoring case. */
export function sameField(fields: readonly FieldDefinition[], level: Level, name: string) {
  return fields.find((f) => f.level === level && f.name.toLowerCase() === name.toLowerCase());
}

/** The groups whose criteria read the field at `level` / `name` (ignoring case), as compiled. */
export function groupsReading(
  catalogue: Catalogue,
  definitions: readonly GroupDefinition[],
  level: Level,
  name: string,
): string[] {
  const key = fieldKey(level, name).toLowerCase();
  const set = compileGroups(definitions, { catalogue });
  return set.groups.filter((g) => g.reads.some((r) => r.toLowerCase() === key)).map((g) => g.id);
}

/**
 * Re-validates every stored group against a changed set of custom fields, as if each were PUT again:
 * options, types, ambiguous names, missing fields. Returns the new catalogue, or throws
 * ValidationError whose details are prefixed `groups.<id>.` (the caller answers it as a 409).
 */
export function revalidateGroups(
  custom: readonly FieldDefinition[],
  definitions: readonly GroupDefinition[],
): Catalogue {
  const catalogue = catalogueOf(custom);
  const problems: ProblemDetail[] = [];
  const parsed: GroupDefinition[] = [];
  for (const def of definitions) {
    try {
      parsed.push(parseGroupDefinition(def.id, def, catalogue));
    } catch (e: unknown) {
      if (!(e instanceof ValidationError)) throw e;
      for (const d of e.details) problems.push({ path: `groups.${def.id}.${d.path}`, message: d.message });
    }
  }
  if (problems.length === 0) {
    try {
      compileGroups(parsed, { catalogue });
    } catch (e: unknown) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
    }
  }
  if (problems.length > 0) {
    const first = problems[0] as ProblemDetail;
    throw new ValidationError(`Groups would break: ${first.path}: ${first.message}`, problems);
  }
  return catalogue;
}
