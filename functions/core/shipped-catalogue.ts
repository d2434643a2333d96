// The catalogue that ships with keywatch (DESIGN §1): the BitLocker solution's custom fields, seeded
// into the table like the group pack (field-definitions.ts reads them back from there), and the
// endpoint's built-in properties, which are keywatch's own and live in code.
import { type Catalogue, defineCatalogue, type FieldDefinition } from './catalogue.ts';

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
  os: 'OS',
  osVersion: 'OS Version',
  osBuildNumber: 'OS Build Number',
  installedSoftware: 'Installed Software',
  machineRoles: 'Machine Roles',
  available: 'Available',
} as const;

/**
 * What the backup script writes into the status field, one example of each shape (DESIGN §1): lint
 * flags a criterion on the field that none of them can satisfy (the RMM's `Not Available`).
 */
export const BACKUP_STATUS_WRITTEN_VALUES = [
  '| C: - FAILED - 123456-789012; Azure AD |',
  '| C: - FAILED - 123456-789012; Local AD |',
  '| D: - Key: Not Found |',
  '| All BitLocker keys are backed up successfully. |',
  '| Device is not joined to a domain or Azure AD. |',
  '| BitLocker module is unavailable on this device. |',
  'BitLocker Disabled',
] as const;

/** The BitLocker solution's custom fields: seeded where absent (edits are kept). */
export const SHIPPED_FIELDS: readonly FieldDefinition[] = [
  {
    name: FIELD.enableBackup,
    level: 'COMPANY',
    type: 'Dropdown',
    options: ['Disabled', 'Windows Workstation and Server', 'Windows Workstation', 'Windows Server'],
  },
  { name: FIELD.disableBackup, level: 'SITE', type: 'Flag', default: false },
  { name: FIELD.disableBackup, level: 'ENDPOINT', type: 'Flag', default: false },
  {
    name: FIELD.backupStatus,
    level: 'ENDPOINT',
    type: 'Text',
    maxLength: 300,
    writtenValues: BACKUP_STATUS_WRITTEN_VALUES,
  },
];

/** Usable in criteria like fields but not writable as fields; set by the status update's properties. */
export const BUILT_IN_FIELDS: readonly FieldDefinition[] = [
  {
    name: FIELD.osType,
    level: 'ENDPOINT',
    type: 'Dropdown',
    options: ['Windows', 'macOS', 'Linux'],
    // ConnectWise RMM reports macOS endpoints' OS type as Darwin.
    aliases: { Darwin: 'macOS' },
    builtIn: 'osType',
  },
  {
    name: FIELD.endpointType,
    level: 'ENDPOINT',
    type: 'Dropdown',
    options: ['Desktop', 'Laptop', 'Server', 'Virtual Machine'],
    builtIn: 'endpointType',
  },
  { name: FIELD.hostname, level: 'ENDPOINT', type: 'Text', builtIn: 'hostname' },
  { name: FIELD.company, level: 'ENDPOINT', type: 'Text', builtIn: 'companyId' },
  { name: FIELD.site, level: 'ENDPOINT', type: 'Text', builtIn: 'siteId' },
  { name: FIELD.lastReport, level: 'ENDPOINT', type: 'Date', builtIn: 'observedAt' },
  { name: FIELD.os, level: 'ENDPOINT', type: 'Text', builtIn: 'os' },
  { name: FIELD.osVersion, level: 'ENDPOINT', type: 'Text', builtIn: 'osVersion' },
  { name: FIELD.osBuildNumber, level: 'ENDPOINT', type: 'Number', builtIn: 'osBuildNumber' },
  {
    name: FIELD.installedSoftware,
    level: 'ENDPOINT',
    type: 'Text',
    multiValued: true,
    builtIn: 'installedSoftware',
  },
  { name: FIELD.machineRoles, level: 'ENDPOINT', type: 'Text', multiValued: true, builtIn: 'machineRoles' },
  { name: FIELD.available, level: 'ENDPOINT', type: 'Flag', builtIn: 'available' },
];

/**
 * The catalogue of a set of custom field definitions (as stored) with keywatch's built-ins. The
 * status field alerts quote is the BitLocker status field where the catalogue has it.
 */
export function catalogueOf(custom: readonly FieldDefinition[]): Catalogue {
  const hasStatus = custom.some((f) => f.level === 'ENDPOINT' && f.name === FIELD.backupStatus);
  return defineCatalogue(
    [...custom, ...BUILT_IN_FIELDS],
    hasStatus ? { status: { level: 'ENDPOINT', name: FIELD.backupStatus } } : {},
  );
}

export const SHIPPED_CATALOGUE = catalogueOf(SHIPPED_FIELDS);
