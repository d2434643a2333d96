// The catalogue that ships with keywatch (DESIGN §1): the BitLocker solution's custom fields and the
// endpoint's built-in properties. Composition roots (handlers, the local runtime) pass it explicitly.
import { defineCatalogue, type FieldDefinition } from './catalogue.ts';

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

const CUSTOM_FIELDS: readonly FieldDefinition[] = [
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

/** Usable in criteria like fields but not writable as fields. */
const BUILT_IN_FIELDS: readonly FieldDefinition[] = [
  {
    name: FIELD.osType,
    level: 'ENDPOINT',
    type: 'Dropdown',
    options: ['Windows', 'macOS', 'Linux'],
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
];

export const SHIPPED_CATALOGUE = defineCatalogue([...CUSTOM_FIELDS, ...BUILT_IN_FIELDS], {
  status: { level: 'ENDPOINT', name: FIELD.backupStatus },
});
