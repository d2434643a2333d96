// Import of an RMM custom-field solution (`POST /v1/import`, `npm run send -- import`): a field
// catalogue and a set of dynamic groups as an RMM exports them, read leniently (property names,
// casing, spacing, operator and type spellings an export carries), validated as one set against what
// is stored, with every problem reported at its JSON path in the files. Pure: the admin use case reads
// the stored set and writes the plan.
import { type FieldDefinition, fieldKey, type Level } from './catalogue.ts';
import { compileGroups } from './criteria/compile.ts';
import { isObject } from './criteria/criterion.ts';
import { parseGroupDefinition } from './criteria/parse.ts';
import { type CompiledGroupSet, type GroupDefinition, OPERATORS, type Operator } from './criteria/types.ts';
import { type ProblemDetail, ValidationError } from './errors.ts';
import { parseFieldDefinition, parseLevel, revalidateGroups } from './field-definitions.ts';
import { isValidId } from './ids.ts';
import { catalogueOf } from './shipped-catalogue.ts';

/** Level names RMMs use for the three levels (ConnectWise RMM: Company / Site / Endpoint). */
const LEVEL_ALIASES: Readonly<Record<string, Level>> = {
  company: 'COMPANY',
  client: 'COMPANY',
  customer: 'COMPANY',
  organization: 'COMPANY',
  organisation: 'COMPANY',
  site: 'SITE',
  location: 'SITE',
  endpoint: 'ENDPOINT',
  device: 'ENDPOINT',
  machine: 'ENDPOINT',
  computer: 'ENDPOINT',
  agent: 'ENDPOINT',
};

/** Operator spellings found in RMM exports and documentation, to keywatch's. */
const OPERATOR_ALIASES: Readonly<Record<string, { operator: Operator; values?: string[] }>> = {
  equals: { operator: 'Equal' },
  is: { operator: 'Equal' },
  '=': { operator: 'Equal' },
  'not equals': { operator: 'Not Equal' },
  'does not equal': { operator: 'Not Equal' },
  'is not': { operator: 'Not Equal' },
  '!=': { operator: 'Not Equal' },
  contains: { operator: 'Contains any of' },
  'contains any': { operator: 'Contains any of' },
  'does not contain': { operator: 'Does Not Contain any of' },
  'not contains': { operator: 'Does Not Contain any of' },
  'does not contain any': { operator: 'Does Not Contain any of' },
  'contains all': { operator: 'Contains all of' },
  'starts with': { operator: 'Begins with' },
  'begins with': { operator: 'Begins with' },
  'ends with': { operator: 'Ends with' },
  'is empty': { operator: 'Is Blank', values: ['True'] },
  'is not empty': { operator: 'Is Blank', values: ['False'] },
  'is not blank': { operator: 'Is Blank', values: ['False'] },
  'greater than': { operator: 'Greater than' },
  '>': { operator: 'Greater than' },
  'less than': { operator: 'Less than' },
  '<': { operator: 'Less than' },
  'older than': { operator: 'Older than days' },
  'older than (days)': { operator: 'Older than days' },
  'within last': { operator: 'Within last days' },
  'within the last days': { operator: 'Within last days' },
  'within last (days)': { operator: 'Within last days' },
  'member of': { operator: 'Member of group' },
  'is member of group': { operator: 'Member of group' },
  'not member of': { operator: 'Not member of group' },
  'is not member of group': { operator: 'Not member of group' },
};

/** Flag values as exports write them. */
const FLAG_TEXT: Readonly<Record<string, string>> = {
  true: 'True',
  yes: 'True',
  checked: 'True',
  on: 'True',
  '1': 'True',
  false: 'False',
  no: 'False',
  unchecked: 'False',
  off: 'False',
  '0': 'False',
};

const squash = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

/** The first of these properties the object has (exports name the same thing differently). */
function pick(o: Record<string, unknown>, ...names: string[]): unknown {
  const byLower = new Map(Object.keys(o).map((k) => [k.toLowerCase().replace(/[\s_-]/g, ''), k]));
  for (const n of names) {
    const key = byLower.get(n.toLowerCase());
    if (key !== undefined) return o[key];
  }
  return undefined;
}

/** A list in the file: an array, or an object wrapping one under a usual name. */
function listIn(raw: unknown, ...names: string[]): unknown[] | undefined {
  if (Array.isArray(raw)) return raw;
  if (isObject(raw)) {
    const inner = pick(raw, ...names);
    if (Array.isArray(inner)) return inner;
  }
  return undefined;
}

function importLevel(raw: unknown): Level | undefined {
  if (typeof raw !== 'string') return undefined;
  return parseLevel(raw) ?? LEVEL_ALIASES[squash(raw)];
}

export function importOperator(raw: unknown): { operator: Operator; values?: string[] } | undefined {
  if (typeof raw !== 'string') return undefined;
  const wanted = squash(raw);
  const exact = OPERATORS.find((o) => o.toLowerCase() === wanted);
  return exact !== undefined ? { operator: exact } : OPERATOR_ALIASES[wanted];
}

/** Dropdown options as exports give them: texts, or objects with a value or label. */
function optionTexts(raw: unknown): unknown {
  if (!Array.isArray(raw)) return raw;
  return raw.map((o) => (isObject(o) ? (pick(o, 'value', 'label', 'name', 'text') ?? o) : o));
}

/** One exported field as the body of `PUT /v1/fields/{level}/{name}`, with its level and name. */
function fieldBody(raw: Record<string, unknown>) {
  const body: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') body[key] = value;
  };
  set('type', pick(raw, 'type', 'fieldType', 'dataType', 'valueType'));
  set('options', optionTexts(pick(raw, 'options', 'values', 'dropdownValues', 'choices', 'items')));
  set('default', pick(raw, 'default', 'defaultValue'));
  set('maxLength', pick(raw, 'maxLength', 'characterLimit', 'maxChars', 'length'));
  set('description', pick(raw, 'description', 'helpText', 'tooltip'));
  set('writtenValues', pick(raw, 'writtenValues', 'writtenBy', 'examples'));
  return body;
}

export interface ImportPlan {
  /** Custom fields to write (new or changed), and those already stored exactly so. */
  readonly fields: {
    readonly write: FieldDefinition[];
    readonly unchanged: string[];
    readonly created: string[];
  };
  /** Groups to write (new or changed) in reference order, and those already stored exactly so. */
  readonly groups: {
    readonly write: GroupDefinition[];
    readonly unchanged: string[];
    readonly created: string[];
  };
}

/**
 * Reads the two files against the stored set and returns what to write, or throws ValidationError with
 * every problem (`fields[2].type`, `groups[5].blocks[0][1].operator`, `groups.<id>.…` for references
 * and for stored groups the new catalogue would break).
 */
export function planImport(
  rawFields: unknown,
  rawGroups: unknown,
  stored: { readonly fields: readonly FieldDefinition[]; readonly groups: readonly GroupDefinition[] },
): ImportPlan {
  const problems: ProblemDetail[] = [];
  const report = (path: string, message: string) => problems.push({ path, message });

  // Fields.
  const fieldList =
    rawFields === undefined || rawFields === null
      ? []
      : listIn(rawFields, 'fields', 'customFields', 'items', 'data');
  if (fieldList === undefined)
    report('fields', 'must be an array of field definitions (or { "fields": [...] })');
  const imported = new Map<string, FieldDefinition>();
  for (const [i, raw] of (fieldList ?? []).entries()) {
    const at = `fields[${i}]`;
    if (!isObject(raw)) {
      report(at, 'must be an object');
      continue;
    }
    const name = pick(raw, 'name', 'fieldName', 'label', 'title');
    const levelRaw = pick(raw, 'level', 'scope', 'entityType', 'entity', 'appliesTo', 'fieldLevel');
    const level = importLevel(levelRaw);
    if (typeof name !== 'string' || name.trim() === '') {
      report(`${at}.name`, 'is required: the field name');
      continue;
    }
    if (level === undefined) {
      report(`${at}.level`, 'is required: Company, Site or Endpoint');
      continue;
    }
    const clean = name.trim().replace(/\s+/g, ' ');
    const key = fieldKey(level, clean).toLowerCase();
    if (imported.has(key)) {
      report(`${at}.name`, `"${clean}" at ${level} is defined twice in the file`);
      continue;
    }
    try {
      imported.set(key, parseFieldDefinition(level, clean, fieldBody(raw)));
    } catch (e: unknown) {
      if (!(e instanceof ValidationError)) throw e;
      for (const d of e.details) report(`${at}.${d.path === '(body)' ? 'type' : d.path}`, d.message);
    }
  }
  const storedByKey = new Map(stored.fields.map((f) => [fieldKey(f.level, f.name).toLowerCase(), f]));
  const merged = new Map(storedByKey);
  for (const [key, def] of imported) merged.set(key, def);
  const catalogue = catalogueOf([...merged.values()]);

  // Groups, read against the merged catalogue.
  const groupList =
    rawGroups === undefined || rawGroups === null
      ? []
      : listIn(rawGroups, 'groups', 'dynamicGroups', 'items', 'data');
  if (groupList === undefined) report('groups', 'must be an array of groups (or { "groups": [...] })');
  const parsed: GroupDefinition[] = [];
  // Ids first (given, else from the name, numbered when names repeat), so that membership criteria
  // may name a group by its name as well as by its id.
  const identified = (groupList ?? []).map((raw, i) => identify(raw, `groups[${i}]`, report));
  const taken = new Set<string>();
  const byName = new Map(stored.groups.map((g) => [squash(g.name), g.id]));
  const namedHere = new Set<string>();
  for (const [i, who] of identified.entries()) {
    if (who === undefined) continue;
    let id = who.id;
    if (taken.has(id.toLowerCase())) {
      if (who.given) {
        report(`groups[${i}].id`, `"${id}" is defined twice in the file (ids ignore case)`);
        identified[i] = undefined;
        continue;
      }
      let n = 2;
      while (taken.has(`${who.id}-${n}`.toLowerCase())) n++;
      id = `${who.id}-${n}`;
    }
    taken.add(id.toLowerCase());
    identified[i] = { ...who, id };
    // A name in the file names the first group of the file with it, before a stored one.
    if (!namedHere.has(squash(who.name))) byName.set(squash(who.name), id);
    namedHere.add(squash(who.name));
  }
  const fieldsByName = new Map<string, FieldDefinition[]>();
  for (const f of catalogue.fields) {
    const k = squash(f.name);
    fieldsByName.set(k, [...(fieldsByName.get(k) ?? []), f]);
  }
  const ctx: LeafContext = { fieldsByName, groupByName: byName };
  for (const [i, raw] of (groupList ?? []).entries()) {
    const who = identified[i];
    if (who === undefined || !isObject(raw)) continue;
    const at = `groups[${i}]`;
    try {
      parsed.push(parseGroupDefinition(who.id, groupBody(raw, who.name, ctx), catalogue));
    } catch (e: unknown) {
      if (!(e instanceof ValidationError)) throw e;
      for (const d of e.details) report(`${at}.${d.path}`, d.message);
    }
  }

  let set: CompiledGroupSet | undefined;
  if (problems.length === 0) {
    // References and cycles across the whole set; stored groups the new catalogue would break.
    const replaced = new Set(parsed.map((g) => g.id.toLowerCase()));
    const kept = stored.groups.filter((g) => !replaced.has(g.id.toLowerCase()));
    try {
      set = compileGroups([...kept, ...parsed], { catalogue });
      revalidateGroups([...merged.values()], kept);
    } catch (e: unknown) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
    }
  }
  if (problems.length > 0 || set === undefined) {
    const first = problems[0] as ProblemDetail;
    throw new ValidationError(`Invalid import: ${first.path}: ${first.message}`, problems);
  }

  // Stored items come back with their maps in another key order: compare key-sorted.
  const same = (a: unknown, b: unknown) => a !== undefined && sortedJson(a) === sortedJson(b);
  const fieldWrites = [...imported.entries()].filter(([k, d]) => !same(storedByKey.get(k), d));
  const storedGroups = new Map(stored.groups.map((g) => [g.id.toLowerCase(), g]));
  // Written in reference order (so every prefix of the writes references only groups that exist),
  // with references spelled as the referenced ids, as a PUT stores them.
  const mine = new Set(parsed.map((g) => g.id));
  const ordered = set.groups.filter((g) => mine.has(g.id)).map((g) => g.definition);
  const groupWrites = ordered.filter((g) => !same(storedGroups.get(g.id.toLowerCase()), g));
  return {
    fields: {
      write: fieldWrites.map(([, d]) => d),
      created: fieldWrites.filter(([k]) => !storedByKey.has(k)).map(([, d]) => fieldKey(d.level, d.name)),
      unchanged: [...imported.entries()]
        .filter(([k, d]) => same(storedByKey.get(k), d))
        .map(([, d]) => fieldKey(d.level, d.name)),
    },
    groups: {
      write: groupWrites,
      created: groupWrites.filter((g) => !storedGroups.has(g.id.toLowerCase())).map((g) => g.id),
      unchanged: ordered.filter((g) => same(storedGroups.get(g.id.toLowerCase()), g)).map((g) => g.id),
    },
  };
}

/** A group id from a name: lower case, runs of other characters as `-`. */
export function slugOf(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 128);
}

/** What leaves are read against: the catalogue's fields and the groups' ids, by squashed name. */
interface LeafContext {
  readonly fieldsByName: ReadonlyMap<string, readonly FieldDefinition[]>;
  readonly groupByName: ReadonlyMap<string, string>;
}

/** A group's name and id: given, else from its name (`given` false). */
function identify(
  raw: unknown,
  at: string,
  report: (path: string, message: string) => void,
): { id: string; name: string; given: boolean } | undefined {
  if (!isObject(raw)) {
    report(at, 'must be an object');
    return undefined;
  }
  const name = pick(raw, 'name', 'groupName', 'title');
  if (typeof name !== 'string' || name.trim() === '') {
    report(`${at}.name`, 'is required: the group name');
    return undefined;
  }
  const givenId = pick(raw, 'id', 'groupId', 'slug');
  const given = typeof givenId === 'string' && givenId.trim() !== '';
  const id = given ? givenId.trim() : slugOf(name);
  if (!isValidId(id)) {
    report(`${at}.id`, `"${id}" is not a usable id: give "id" (1–128 characters without / ? # or spaces)`);
    return undefined;
  }
  return { id, name: name.trim(), given };
}

/**
 * One exported group as the body of `PUT /v1/groups/{id}`: its criteria as `blocks` of leaves
 * `{ field, level?, operator, values }` (or a `criteria` tree as it is).
 */
function groupBody(raw: Record<string, unknown>, name: string, ctx: LeafContext): Record<string, unknown> {
  const body: Record<string, unknown> = { name };
  const description = pick(raw, 'description', 'notes');
  if (typeof description === 'string' && description !== '') body.description = description;
  const alert = pick(raw, 'alert');
  if (alert !== undefined) body.alert = alert;
  const criteria = pick(raw, 'criteria');
  const blocks = pick(raw, 'blocks', 'conditionBlocks', 'criteriaBlocks', 'conditions', 'filters');
  if (isObject(criteria) && blocks === undefined) {
    body.criteria = criteria;
    return body;
  }
  const list = blocks ?? criteria;
  if (!Array.isArray(list)) {
    body.blocks = list;
    return body;
  }
  body.blocks = list.map((block: unknown) => {
    // A block: an array of leaves, or an object holding them ({ "criteria": [...] }).
    const leaves = Array.isArray(block)
      ? block
      : isObject(block)
        ? (listIn(block, 'criteria', 'conditions', 'rules', 'filters') ?? [block])
        : block;
    return Array.isArray(leaves) ? leaves.map((leaf) => leafBody(leaf, ctx)) : leaves;
  });
  return body;
}

const TRIMMED_TYPES = new Set(['Dropdown', 'Flag', 'Number', 'Date']);

/**
 * One exported condition as a leaf `{ field, level?, operator, values }`, leniently read: Flag words
 * (`Yes`, `Checked`, `1`) become `True` / `False`; values of Dropdown, Flag, Number and Date fields are
 * trimmed, and a Dropdown value listing options with commas (`Windows, macOS`) is split; groups named
 * by name in membership criteria become their ids; `Is Blank` without a value means `True`.
 */
function leafBody(raw: unknown, ctx: LeafContext): unknown {
  if (!isObject(raw)) return raw;
  const leaf: Record<string, unknown> = {};
  const field = pick(raw, 'field', 'fieldName', 'name', 'property', 'attribute');
  leaf.field = typeof field === 'string' ? field.trim().replace(/\s+/g, ' ') : field;
  const levelRaw = pick(raw, 'level', 'scope', 'fieldLevel', 'entityType');
  const level =
    levelRaw === undefined || levelRaw === null || levelRaw === '' ? undefined : importLevel(levelRaw);
  if (levelRaw !== undefined && levelRaw !== null && levelRaw !== '') leaf.level = level ?? levelRaw;
  const opRaw = pick(raw, 'operator', 'condition', 'op', 'comparison');
  const op = importOperator(opRaw);
  leaf.operator = op?.operator ?? opRaw;
  const valuesRaw = pick(raw, 'values', 'value', 'criteria', 'operand');
  let values: unknown[] =
    valuesRaw === undefined || valuesRaw === null ? [] : Array.isArray(valuesRaw) ? valuesRaw : [valuesRaw];
  const name = typeof leaf.field === 'string' ? squash(leaf.field) : '';
  const named = ctx.fieldsByName.get(name) ?? [];
  const def =
    level === undefined ? (named.length === 1 ? named[0] : undefined) : named.find((f) => f.level === level);
  if (op?.values !== undefined) values = op.values;
  else if (op?.operator === 'Is Blank') values = values.length === 0 ? ['True'] : values.map(flagText);
  else if (name === 'group') {
    values = values.map((v) => (typeof v === 'string' ? (ctx.groupByName.get(squash(v)) ?? v.trim()) : v));
  } else if (def !== undefined && TRIMMED_TYPES.has(def.type)) {
    values = values.map((v) => (typeof v === 'string' ? v.trim() : v));
    if (def.type === 'Flag') values = values.map(flagText);
    if (def.type === 'Dropdown' && (op?.operator === 'Equal' || op?.operator === 'Not Equal')) {
      values = values.flatMap((v) => splitOptions(v, def.options ?? []));
    }
  }
  leaf.values = values;
  return leaf;
}

/** `"Windows, macOS"` as two options when it is not an option itself but each part is. */
function splitOptions(v: unknown, options: readonly string[]): unknown[] {
  if (typeof v !== 'string' || !v.includes(',')) return [v];
  const isOption = (x: string) => options.some((o) => o.toLowerCase() === x.toLowerCase());
  if (isOption(v)) return [v];
  const parts = v.split(',').map((p) => p.trim());
  return parts.every(isOption) ? parts : [v];
}

function flagText(v: unknown): unknown {
  return typeof v === 'string' ? (FLAG_TEXT[squash(v)] ?? v) : v;
}

/** JSON with object keys sorted, so that two equal definitions compare equal whatever their key order. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
