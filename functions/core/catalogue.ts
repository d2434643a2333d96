// Field catalogues (DESIGN §1): custom fields at three levels plus the endpoint's built-in properties.
// A catalogue is a value passed to whatever needs it; the one that ships is in shipped-catalogue.ts.

export const LEVELS = ['COMPANY', 'SITE', 'ENDPOINT'] as const;
export type Level = (typeof LEVELS)[number];

export const FIELD_TYPES = ['Dropdown', 'Flag', 'Text', 'Number', 'Date'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** A stored field value. Dates are ISO-8601 strings; null never stored (it clears). */
export type FieldValue = string | number | boolean;

/** What a criterion reads: a field value, or the list of a multi-valued built-in. */
export type FactValue = FieldValue | readonly string[];

/** Endpoint record properties a built-in field reads. */
export type BuiltIn =
  | 'osType'
  | 'endpointType'
  | 'hostname'
  | 'companyId'
  | 'siteId'
  | 'observedAt'
  | 'os'
  | 'osVersion'
  | 'osBuildNumber'
  | 'installedSoftware'
  | 'machineRoles'
  | 'available';

export interface FieldDefinition {
  readonly name: string;
  readonly level: Level;
  readonly type: FieldType;
  readonly description?: string;
  readonly options?: readonly string[];
  readonly default?: FieldValue;
  /** Text only: maximum length in Unicode code points. */
  readonly maxLength?: number;
  /** Built-in endpoint property (not a custom field): read from the endpoint record itself. */
  readonly builtIn?: BuiltIn;
  /** A list of texts (built-ins only): a criterion holds when it holds for one element (docs/api.md §5). */
  readonly multiValued?: boolean;
  /**
   * What the field's writers are documented to write (examples of each shape a script produces), for
   * lint: a criterion no written value can satisfy is flagged. Absent: anything may be written.
   */
  readonly writtenValues?: readonly string[];
  /** Other spellings of options, accepted and stored as the option (OS Type: the RMM's `Darwin`). */
  readonly aliases?: Readonly<Record<string, string>>;
}

/** A catalogue with the look-ups every user of it needs, computed once. */
export interface Catalogue {
  /** Custom fields first, then built-ins, in definition order. */
  readonly fields: readonly FieldDefinition[];
  /** Writable (custom) fields of one level by name. */
  customAt(level: Level): ReadonlyMap<string, FieldDefinition>;
  /** The built-in field reading this endpoint property, if the catalogue has one. */
  builtIn(property: BuiltIn): FieldDefinition | undefined;
  /** Fact keys of every ENDPOINT-level field, built-ins included. */
  readonly endpointKeys: readonly string[];
  /** Fact key of `Last Report` (the built-in reading `observedAt`), if present. */
  readonly lastReportKey: string | undefined;
  /** Fact key of the field whose text alerts quote as the endpoint's status, if any. */
  readonly statusKey: string | undefined;
}

/** The key a field has in facts, effectiveFields and alert payloads: `<LEVEL>:<name>`. */
export function fieldKey(level: Level, name: string): string {
  return `${level}:${name}`;
}

export function defineCatalogue(
  fields: readonly FieldDefinition[],
  options: { readonly status?: { readonly level: Level; readonly name: string } } = {},
): Catalogue {
  const custom = new Map<Level, Map<string, FieldDefinition>>(LEVELS.map((l) => [l, new Map()]));
  const builtIns = new Map<BuiltIn, FieldDefinition>();
  for (const f of fields) {
    if (f.builtIn !== undefined) builtIns.set(f.builtIn, f);
    else custom.get(f.level)?.set(f.name, f);
  }
  const status = options.status;
  if (status !== undefined && !fields.some((f) => f.level === status.level && f.name === status.name)) {
    throw new Error(`status field ${fieldKey(status.level, status.name)} is not in the catalogue`);
  }
  const lastReport = builtIns.get('observedAt');
  return {
    fields,
    customAt: (level) => custom.get(level) ?? new Map(),
    builtIn: (property) => builtIns.get(property),
    endpointKeys: fields.filter((f) => f.level === 'ENDPOINT').map((f) => fieldKey(f.level, f.name)),
    lastReportKey: lastReport === undefined ? undefined : fieldKey(lastReport.level, lastReport.name),
    statusKey: status === undefined ? undefined : fieldKey(status.level, status.name),
  };
}

/** Canonical spelling of an option, matched ignoring case; undefined when it is not an option. */
export function canonicalOption(def: FieldDefinition, value: string): string | undefined {
  const wanted = value.toLowerCase();
  const option = def.options?.find((o) => o.toLowerCase() === wanted);
  if (option !== undefined || def.aliases === undefined) return option;
  const alias = Object.entries(def.aliases).find(([a]) => a.toLowerCase() === wanted)?.[1];
  return alias === undefined ? undefined : def.options?.find((o) => o === alias);
}

/** A catalogue as it is read: the stored field definitions at the time, built once per change. */
export type CatalogueSource = () => Promise<Catalogue>;
