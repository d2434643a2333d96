// Ingest use case: status reports. Validation of the whole request happens before any write; reports
// for one endpoint are applied in request order, others concurrently.

import type { Repository } from '#adapters/repository.ts';
import type { Catalogue, CatalogueSource } from '#core/catalogue.ts';
import type { Owner, ReportResult, StatusUpdate } from '#core/endpoint.ts';
import type { ProblemDetail } from '#core/errors.ts';
import { canonicalBuiltIn, validateFields } from '#core/fields.ts';
import { instantKey, parseIsoInstant } from '#core/instant.ts';
import { fail } from '#http/validation.ts';
import type { StatusBody } from './schema.ts';
import { assertNotAllForbidden, assertWithinScope } from './scope.ts';

/** Reports further ahead of the server clock than this are rejected (DESIGN §1). */
export const MAX_FUTURE_MS = 300_000;
const WRITE_CONCURRENCY = 16;

export function toStatusUpdates(body: StatusBody, nowMs: number, catalogue: Catalogue): StatusUpdate[] {
  const problems: ProblemDetail[] = [];
  const updates = body.updates.map((u, i): StatusUpdate => {
    const at = `updates[${i}]`;
    const observedAtMs = parseIsoInstant(u.observedAt);
    if (observedAtMs === undefined) {
      problems.push({ path: `${at}.observedAt`, message: 'must be an ISO-8601 date-time with a time zone' });
    } else if (observedAtMs > nowMs + MAX_FUTURE_MS) {
      problems.push({ path: `${at}.observedAt`, message: 'is more than 300 s ahead of the server clock' });
    }
    const builtIn = (property: 'osType' | 'endpointType', value: string | undefined) => {
      if (value === undefined) return undefined;
      const checked = canonicalBuiltIn(catalogue, property, value);
      if ('value' in checked) return checked.value;
      problems.push({ path: `${at}.${property}`, message: checked.problem });
      return undefined;
    };
    const osType = builtIn('osType', u.osType);
    const endpointType = builtIn('endpointType', u.endpointType);
    const fields = validateFields(catalogue, 'ENDPOINT', u.fields, `${at}.fields`, problems);
    const properties = {
      ...(u.os !== undefined ? { os: u.os } : {}),
      ...(u.osVersion !== undefined ? { osVersion: u.osVersion } : {}),
      ...(u.osBuildNumber !== undefined ? { osBuildNumber: u.osBuildNumber } : {}),
      ...(u.installedSoftware !== undefined ? { installedSoftware: u.installedSoftware } : {}),
      ...(u.machineRoles !== undefined ? { machineRoles: u.machineRoles } : {}),
      ...(u.available !== undefined ? { available: u.available } : {}),
    };
    return {
      endpointId: u.endpointId,
      companyId: u.companyId,
      siteId: u.siteId,
      observedAt: u.observedAt,
      observedAtMs: observedAtMs ?? 0,
      observedKey: instantKey(u.observedAt) ?? '',
      ...(u.hostname !== undefined ? { hostname: u.hostname } : {}),
      ...(osType !== undefined ? { osType } : {}),
      ...(endpointType !== undefined ? { endpointType } : {}),
      properties,
      fields,
    };
  });
  if (problems.length > 0) fail('status updates', problems);
  return updates;
}

export async function applyStatusUpdates(
  updates: readonly StatusUpdate[],
  repo: Pick<Repository, 'writeReport'>,
  nowIso: string,
  owner?: Owner,
): Promise<{ endpointId: string; result: ReportResult }[]> {
  const results: ReportResult[] = new Array(updates.length);
  // Reports for the same endpoint go in request order; distinct endpoints run concurrently.
  const chains = new Map<string, number[]>();
  updates.forEach((u, i) => {
    const list = chains.get(u.endpointId);
    if (list) list.push(i);
    else chains.set(u.endpointId, [i]);
  });
  const queue = [...chains.values()];
  const worker = async () => {
    for (let chain = queue.shift(); chain !== undefined; chain = queue.shift()) {
      for (const i of chain) results[i] = await repo.writeReport(updates[i]!, nowIso, owner);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, queue.length) }, worker));
  return updates.map((u, i) => ({ endpointId: u.endpointId, result: results[i]! }));
}

export interface ReportDeps {
  readonly repo: Pick<Repository, 'writeReport'>;
  /** The stored catalogue, cached per instance (ingest reads it once per cache period, not per update). */
  readonly catalogue: CatalogueSource;
  /** Told of each report refused because its endpoint is stored under another company or site. */
  readonly onForbidden?: (endpointId: string, owner: Owner) => void;
}

/**
 * The status use case: an ingest key's scope first (403, nothing written), then validation (400),
 * then one conditional write per update; if the key was refused every endpoint, 403 as well.
 */
export async function reportStatus(
  body: StatusBody,
  owner: Owner | undefined,
  nowMs: number,
  deps: ReportDeps,
) {
  assertWithinScope(body.updates, owner);
  const updates = toStatusUpdates(body, nowMs, await deps.catalogue());
  const results = await applyStatusUpdates(updates, deps.repo, new Date(nowMs).toISOString(), owner);
  if (owner !== undefined) {
    for (const r of results) if (r.result === 'forbidden') deps.onForbidden?.(r.endpointId, owner);
  }
  assertNotAllForbidden(results);
  return { results };
}
