// The field catalogue of DESIGN §1: custom fields at three levels plus the endpoint's built-in
// properties. Pure data and look-ups; validation of values lives in fields.ts.

export const LEVELS = ['COMPANY', 'SITE', 'ENDPOINT'] as const;
export type Level = (typeof LEVELS)[number];

export const FIELD_TYPES = ['Dropdown', 'Flag', 'Text', 'Number', 'Date'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** A stored field value. Dates are ISO-8601 strings; null never stored (it clears). */
export type FieldValue = string | number | boolean;

export interface FieldDefinition {
  readonly name: string;
  readonly level: Level;
  readonly type: FieldType;
  readonly options?: readonly string[];
  readonly default?: FieldValue;
  /** Text only: maximum length in Unicode code points. */
  readonly maxLength?: number;
  /** Built-in endpoint property (not a custom field): read from the endpoint record itself. */
  readonly builtIn?: 'osType' | 'endpointType' | 'hostname' | 'companyId' | 'siteId' | 'observedAt';
}

export const FIELD = {
  enableBackup: 'Enable BitLocker Key Backup',
  disableBackup: 'Disable BitLocker Key Backup',
  backupStatus: 'BitLocker Key Backup Status',
  osType: 'OS Type',
  endpointType: 'Endpoint Type',
  hostname: 'Hostname',
  company: 'Company',
  site: 'Site',
  lastReport: 'Last Report',
} as const;

export const OS_TYPES = ['Windows', 'macOS', 'Linux'] as const;
export const ENDPOINT_TYPES = ['Desktop', 'Laptop', 'Server', 'Virtual Machine'] as const;

/** Custom fields that ship with keywatch (the BitLocker solution). */
export const CUSTOM_FIELDS: readonly FieldDefinition[] = [
  {
    name: FIELD.enableBackup,
    level: 'COMPANY',
    type: 'Dropdown',
    options: ['Disabled', 'Windows Workstation and Server', 'Windows Workstation', 'Windows Server'],
  },
  { name: FIELD.disableBackup, level: 'SITE', type: 'Flag', default: false },
  { name: FIELD.disableBackup, level: 'ENDPOINT', type: 'Flag', default: false },
  { name: FIELD.backupStatus, level: 'ENDPOINT', type: 'Text', maxLength: 300 },
];

/** Built-in endpoint properties, usable in criteria like fields but not writable as fields. */
export const BUILT_IN_FIELDS: readonly FieldDefinition[] = [
  { name: FIELD.osType, level: 'ENDPOINT', type: 'Dropdown', options: OS_TYPES, builtIn: 'osType' },
  {
    name: FIELD.endpointType,
    level: 'ENDPOINT',
    type: 'Dropdown',
    options: ENDPOINT_TYPES,
    builtIn: 'endpointType',
  },
  { name: FIELD.hostname, level: 'ENDPOINT', type: 'Text', builtIn: 'hostname' },
  { name: FIELD.company, level: 'ENDPOINT', type: 'Text', builtIn: 'companyId' },
  { name: FIELD.site, level: 'ENDPOINT', type: 'Text', builtIn: 'siteId' },
  { name: FIELD.lastReport, level: 'ENDPOINT', type: 'Date', builtIn: 'observedAt' },
];

export const ALL_FIELDS: readonly FieldDefinition[] = [...CUSTOM_FIELDS, ...BUILT_IN_FIELDS];

/** The key a field has in facts, effectiveFields and alert payloads: `<LEVEL>:<name>`. */
export function fieldKey(level: Level, name: string): string {
  return `${level}:${name}`;
}

/** Canonical spelling of an option, matched ignoring case; undefined when it is not an option. */
export function canonicalOption(def: FieldDefinition, value: string): string | undefined {
  const wanted = value.toLowerCase();
  return def.options?.find((o) => o.toLowerCase() === wanted);
}
