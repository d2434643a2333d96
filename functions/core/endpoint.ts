// Endpoints, companies and sites as the domain sees them, and the pure rules around them: what counts
// as the same observation (DESIGN §4 `unchanged`), and the effective fields an endpoint sees.
import {
  type Catalogue,
  type FactValue,
  type FieldDefinition,
  type FieldValue,
  fieldKey,
  type Level,
} from './catalogue.ts';
import type { FieldChanges } from './fields.ts';

export interface EndpointRecord {
  readonly endpointId: string;
  readonly companyId: string;
  readonly siteId: string;
  readonly hostname: string | null;
  readonly osType: string | null;
  readonly endpointType: string | null;
  /** The RMM's further built-ins (`OS`, `OS Version`, …); unset or null until a report gives them. */
  readonly os?: string | null;
  readonly osVersion?: string | null;
  readonly osBuildNumber?: number | null;
  readonly installedSoftware?: readonly string[] | null;
  readonly machineRoles?: readonly string[] | null;
  readonly available?: boolean | null;
  readonly observedAt: string;
  readonly observedAtMs: number;
  /** `instantKey(observedAt)`: orders reports to the nanosecond. */
  readonly observedKey: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** Groups the endpoint is a member of: group id → ISO time it entered. */
  readonly groups: Readonly<Record<string, string>>;
  /** Data revision, bumped by every applied report. */
  readonly rev: number;
  /** Membership revision, bumped by every membership change the evaluator writes. */
  readonly grev: number;
  /** The company the member items were written under (member keys carry it); unset before any. */
  readonly groupsCompanyId?: string;
  /**
   * The data revision (`rev`) whose report the membership was last evaluated from, in stream order;
   * unset on items written before it existed. A stream record of revision `r` whose stored `mrev` is
   * `r` or more has been evaluated already (see functions/evaluate/endpoint-evaluation.ts).
   */
  readonly mrev?: number;
  /**
   * When the clock alone can next change this membership (epoch ms, functions/core/due.ts), as the
   * evaluator last wrote it: never later than that, possibly earlier (the tick then re-checks for
   * nothing). Unset: no day leaf can flip for the values evaluated.
   */
  readonly dueMs?: number;
  /**
   * Whether the group set of the evaluator's last write read Last Report. Reports carry it in their
   * stream images, so an instance holding older definitions does not skip a report that moves only
   * Last Report as irrelevant (functions/evaluate/evaluate.ts, isRoutine).
   */
  readonly lastReportRead?: boolean;
}

export interface ScopeRecord {
  readonly companyId: string;
  readonly siteId?: string;
  readonly name: string | null;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** A company (`siteId` absent) or one of its sites. */
export interface ScopeRef {
  readonly companyId: string;
  readonly siteId?: string;
}

/** The key of a company or site in a map of scope records. */
export function scopeKey(r: ScopeRef): string {
  return r.siteId === undefined ? `company|${r.companyId}` : `site|${r.companyId}|${r.siteId}`;
}

export interface StatusUpdate {
  readonly endpointId: string;
  readonly companyId: string;
  readonly siteId: string;
  readonly observedAt: string;
  readonly observedAtMs: number;
  readonly observedKey: string;
  readonly hostname?: string;
  readonly osType?: string;
  readonly endpointType?: string;
  /** The further built-in properties a report may carry (`os`, `installedSoftware`, …). */
  readonly properties?: BuiltInProperties;
  readonly fields: FieldChanges;
}

/** Built-in properties besides hostname, OS Type and Endpoint Type, as a report gives them. */
export interface BuiltInProperties {
  readonly os?: string;
  readonly osVersion?: string;
  readonly osBuildNumber?: number;
  readonly installedSoftware?: readonly string[];
  readonly machineRoles?: readonly string[];
  readonly available?: boolean;
}

/** Whether two fact values are the same (lists element by element). */
export function sameFact(a: FactValue | null | undefined, b: FactValue | null | undefined): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}

/** `forbidden`: an ingest key's report for an endpoint stored under another company or site. */
export type ReportResult = 'applied' | 'unchanged' | 'stale' | 'forbidden';

/** The company (and site) an ingest key confines its reports to. */
export interface Owner {
  readonly companyId: string;
  readonly siteId?: string;
}

/** The same observation again: same instant, and everything the update mentions equals the store. */
export function isSameObservation(update: StatusUpdate, stored: EndpointRecord): boolean {
  if (stored.observedKey !== update.observedKey) return false;
  if (stored.companyId !== update.companyId || stored.siteId !== update.siteId) return false;
  if (update.hostname !== undefined && stored.hostname !== update.hostname) return false;
  if (update.osType !== undefined && stored.osType !== update.osType) return false;
  if (update.endpointType !== undefined && stored.endpointType !== update.endpointType) return false;
  for (const [name, value] of Object.entries(update.properties ?? {})) {
    if (!sameFact(stored[name as keyof BuiltInProperties], value)) return false;
  }
  for (const [name, value] of Object.entries(update.fields.set)) {
    if (stored.fields[name] !== value) return false;
  }
  return update.fields.clear.every((name) => stored.fields[name] === undefined);
}

function valueOrDefault(def: FieldDefinition, stored: Readonly<Record<string, FieldValue>> | undefined) {
  const v = stored?.[def.name];
  return v !== undefined ? v : (def.default ?? null);
}

/**
 * `<LEVEL>:<name>` → value for every catalogue field of the three levels (stored, else default,
 * else null), plus the endpoint's built-in properties. The criteria engine reads the same keys.
 */
export function effectiveFields(
  catalogue: Catalogue,
  endpoint: EndpointRecord,
  site: ScopeRecord | undefined,
  company: ScopeRecord | undefined,
): Record<string, FactValue | null> {
  const byLevel: Record<Level, Readonly<Record<string, FieldValue>> | undefined> = {
    COMPANY: company?.fields,
    SITE: site?.fields,
    ENDPOINT: endpoint.fields,
  };
  const out: Record<string, FactValue | null> = {};
  for (const def of catalogue.fields) {
    out[fieldKey(def.level, def.name)] =
      def.builtIn !== undefined ? (endpoint[def.builtIn] ?? null) : valueOrDefault(def, byLevel[def.level]);
  }
  return out;
}

/** Catalogue fields of one level with their effective value, for company and site responses. */
export function levelFields(
  catalogue: Catalogue,
  level: Level,
  stored: Readonly<Record<string, FieldValue>>,
) {
  const out: Record<string, FieldValue | null> = {};
  for (const def of catalogue.customAt(level).values()) out[def.name] = valueOrDefault(def, stored);
  return out;
}
