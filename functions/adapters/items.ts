// Mapping between table items and domain records. Custom fields are top-level attributes `F#<name>`
// so an update can set or remove one field without reading the item.
import type { FieldValue } from '#core/catalogue.ts';
import type { EndpointRecord, ScopeRecord } from '#core/endpoint.ts';
import { instantKey } from '#core/instant.ts';
import { FIELD_ATTR_PREFIX, INDEX, indexKeys } from './keys.ts';

export type Item = Record<string, unknown>;

function fieldsOf(item: Item): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k.startsWith(FIELD_ATTR_PREFIX)) fields[k.slice(FIELD_ATTR_PREFIX.length)] = v as FieldValue;
  }
  return fields;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const list = (v: unknown): string[] | null =>
  Array.isArray(v) ? v.map(String) : v instanceof Set ? [...v].map(String) : null;

export function endpointFromItem(item: Item): EndpointRecord {
  return {
    endpointId: String(item.endpointId),
    companyId: String(item.companyId),
    siteId: String(item.siteId),
    hostname: str(item.hostname),
    osType: str(item.osType),
    endpointType: str(item.endpointType),
    os: str(item.os),
    osVersion: str(item.osVersion),
    osBuildNumber: numOrNull(item.osBuildNumber),
    installedSoftware: list(item.installedSoftware),
    machineRoles: list(item.machineRoles),
    available: typeof item.available === 'boolean' ? item.available : null,
    observedAt: String(item.observedAt),
    observedAtMs: num(item.observedAtMs),
    observedKey:
      typeof item.observedKey === 'string' ? item.observedKey : (instantKey(String(item.observedAt)) ?? ''),
    fields: fieldsOf(item),
    groups: (item.groups as Record<string, string> | undefined) ?? {},
    rev: num(item.rev),
    grev: num(item.grev),
    ...(typeof item.groupsCompanyId === 'string' ? { groupsCompanyId: item.groupsCompanyId } : {}),
    ...(typeof item.mrev === 'number' ? { mrev: item.mrev } : {}),
    ...dueOf(item),
    ...(item.lastReportRead === true ? { lastReportRead: true } : {}),
  };
}

/** The due instant is the GSI5 sort key itself (ISO text), so the item holds it once. */
function dueOf(item: Item): { dueMs?: number } {
  const key = item[indexKeys(INDEX.due).sortKey];
  const ms = typeof key === 'string' ? Date.parse(key) : Number.NaN;
  return Number.isNaN(ms) ? {} : { dueMs: ms };
}

export function scopeFromItem(item: Item): ScopeRecord {
  return {
    companyId: String(item.companyId),
    ...(typeof item.siteId === 'string' ? { siteId: item.siteId } : {}),
    name: str(item.name),
    fields: fieldsOf(item),
  };
}
