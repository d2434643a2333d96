// The group pack that ships with keywatch (DESIGN §2), written for the shipped catalogue. Ids are
// binding. Raw definitions, as a client would PUT them (the RMM's `blocks` shape), so they go through
// parseGroupDefinition like any other.

import type { FieldDefinition } from './catalogue.ts';
import { parseGroupDefinition } from './criteria/parse.ts';
import type { GroupDefinition } from './criteria/types.ts';
import { FIELD, SHIPPED_CATALOGUE, SHIPPED_FIELDS } from './shipped-catalogue.ts';

export const SHIPPED_GROUP_IDS = {
  enabled: 'bitlocker-key-backup-enabled',
  failed: 'bitlocker-key-backup-failed',
  successful: 'bitlocker-key-backup-successful',
  missing: 'bitlocker-key-missing',
} as const;

const bothDisableFlagsFalse = [
  { field: FIELD.disableBackup, level: 'SITE', operator: 'Equal', values: ['False'] },
  { field: FIELD.disableBackup, level: 'ENDPOINT', operator: 'Equal', values: ['False'] },
];

export const SHIPPED_GROUPS = [
  {
    id: SHIPPED_GROUP_IDS.enabled,
    name: 'BitLocker Key Backup Enabled',
    description:
      'Windows endpoints whose company enables key backup for their kind and no site or endpoint flag disables it.',
    blocks: [
      [
        {
          field: FIELD.enableBackup,
          operator: 'Contains any of',
          values: ['Windows Workstation', 'Windows Workstation and Server'],
        },
        { field: FIELD.osType, operator: 'Equal', values: ['Windows'] },
        { field: FIELD.endpointType, operator: 'Not Equal', values: ['Server'] },
        ...bothDisableFlagsFalse,
      ],
      [
        {
          field: FIELD.enableBackup,
          operator: 'Contains any of',
          values: ['Windows Server', 'Windows Workstation and Server'],
        },
        { field: FIELD.osType, operator: 'Equal', values: ['Windows'] },
        { field: FIELD.endpointType, operator: 'Equal', values: ['Server'] },
        ...bothDisableFlagsFalse,
      ],
    ],
  },
  {
    id: SHIPPED_GROUP_IDS.failed,
    name: 'BitLocker Key Backup Failed',
    description: 'The last backup run reported at least one key it could not escrow.',
    blocks: [[{ field: FIELD.backupStatus, operator: 'Contains any of', values: ['FAILED'] }]],
    alert: { on: ['enter', 'exit'], severity: 'high' },
  },
  {
    id: SHIPPED_GROUP_IDS.successful,
    name: 'BitLocker Key Backup Successful',
    description: 'The last backup run escrowed every key.',
    blocks: [
      [
        {
          field: FIELD.backupStatus,
          operator: 'Contains any of',
          values: ['All BitLocker keys are backed up successfully'],
        },
      ],
    ],
  },
  {
    id: SHIPPED_GROUP_IDS.missing,
    name: 'BitLocker Key Missing',
    // The RMM's own pack looks only for "Not Available", which the script never writes.
    description: 'The last backup run found a protected volume without a recovery key.',
    blocks: [
      [
        {
          field: FIELD.backupStatus,
          operator: 'Contains any of',
          values: ['Not Available', 'Key: Not Found'],
        },
      ],
    ],
    alert: { on: ['enter'], severity: 'high' },
  },
] as const;

/** The shipped groups parsed against the shipped catalogue and canonically spelled, ready to store. */
export function shippedGroupDefinitions(): GroupDefinition[] {
  return SHIPPED_GROUPS.map((raw) => parseGroupDefinition(raw.id, raw, SHIPPED_CATALOGUE));
}

/**
 * Adds each shipped custom field, then each shipped group, where none with its key exists (one an
 * operator edited, or deleted and recreated, is kept; one deleted comes back, as a deleted group
 * does). The one seeding path for the local runtime, tests and benchmarks; the stack seeds the same
 * items (infra/group-pack-seed.ts). Returns the group ids it added.
 */
export async function seedShippedGroups(
  store: {
    putIfAbsent(definition: GroupDefinition, nowIso: string): Promise<boolean>;
    putFieldIfAbsent(definition: FieldDefinition, nowIso: string): Promise<boolean>;
  },
  nowIso: string,
): Promise<string[]> {
  for (const field of SHIPPED_FIELDS) await store.putFieldIfAbsent(field, nowIso);
  const added: string[] = [];
  for (const definition of shippedGroupDefinitions()) {
    if (await store.putIfAbsent(definition, nowIso)) added.push(definition.id);
  }
  return added;
}
