// Read and group-management use cases behind the admin function.
import { GroupSetChangedError, type GroupSnapshot, type GroupStore } from '#adapters/group-store.ts';
import type { QueryStore } from '#adapters/query-store.ts';
import type { Repository } from '#adapters/repository.ts';
import type { CatalogueSource } from '#core/catalogue.ts';
import {
  compileGroups,
  compileWithCandidate,
  dependentsOf,
  lintGroup,
  parseGroupDefinition,
} from '#core/criteria/index.ts';
import type { GroupDefinition } from '#core/criteria/types.ts';
import { effectiveFields, scopeKey } from '#core/endpoint.ts';
import { ConflictError, NotFoundError, ValidationError } from '#core/errors.ts';
import { catalogueOf } from '#core/shipped-catalogue.ts';
import { decodeCursor, encodeCursor } from '#http/cursor.ts';
import { nestsDeeperThan } from '#http/validation.ts';

export interface QueryDeps {
  readonly repo: Pick<Repository, 'getEndpoint' | 'getScopes'>;
  readonly groups: GroupStore;
  readonly reads: QueryStore;
  /**
   * The stored catalogue, read consistently per request, for endpoint views and company and site
   * upserts (group changes read it with the group set instead).
   */
  readonly catalogue: CatalogueSource;
  readonly nowMs: () => number;
}

/** Transitions shown with an endpoint. */
const ENDPOINT_TRANSITIONS = 20;

/**
 * DynamoDB stores attribute values nested at most 31 containers deep (measured on DynamoDB Local;
 * "32 levels" in the AWS limits, counting the item). A deeper definition is valid criteria that
 * cannot be stored: a 400, not the 500 of a failed PutItem.
 */
const MAX_DEFINITION_DEPTH = 31;

export async function getEndpoint(deps: QueryDeps, endpointId: string) {
  const endpoint = await deps.repo.getEndpoint(endpointId);
  if (endpoint === undefined) throw new NotFoundError(`No endpoint "${endpointId}"`);
  const siteRef = { companyId: endpoint.companyId, siteId: endpoint.siteId };
  const companyRef = { companyId: endpoint.companyId };
  const [scopes, history] = await Promise.all([
    deps.repo.getScopes([companyRef, siteRef]),
    deps.reads.transitions({ endpointId }, ENDPOINT_TRANSITIONS),
  ]);
  const site = scopes.get(scopeKey(siteRef));
  const company = scopes.get(scopeKey(companyRef));
  return {
    endpoint: {
      endpointId: endpoint.endpointId,
      companyId: endpoint.companyId,
      siteId: endpoint.siteId,
      hostname: endpoint.hostname,
      osType: endpoint.osType,
      endpointType: endpoint.endpointType,
      observedAt: endpoint.observedAt,
      fields: endpoint.fields,
    },
    company: { companyId: endpoint.companyId, name: company?.name ?? null },
    site: { siteId: endpoint.siteId, name: site?.name ?? null },
    effectiveFields: effectiveFields(await deps.catalogue(), endpoint, site, company),
    groups: Object.keys(endpoint.groups).sort(),
    transitions: history.items,
  };
}

export async function listGroups(deps: QueryDeps) {
  const stored = await deps.groups.list();
  const groups = await Promise.all(
    stored.map(async ({ definition, updatedAt }) => ({
      id: definition.id,
      name: definition.name,
      ...(definition.description !== undefined ? { description: definition.description } : {}),
      alert: definition.alert ?? null,
      memberCount: await deps.groups.memberCount(definition.id),
      updatedAt,
    })),
  );
  groups.sort((a, b) => a.id.localeCompare(b.id));
  return { groups };
}

export async function getGroup(deps: QueryDeps, groupId: string) {
  const found = await deps.reads.getGroup(groupId);
  if (found === undefined) throw new NotFoundError(`No group "${groupId}"`);
  return { ...found.definition, updatedAt: found.updatedAt };
}

/** Validates against the stored set (references, cycles), stores; the evaluator re-evaluates the fleet. */
/** Stored group definitions stay well inside DynamoDB's 400 KB item limit. */
const MAX_DEFINITION_BYTES = 256 * 1024;

export async function putGroup(deps: QueryDeps, groupId: string, body: unknown) {
  // Parsed against the catalogue as it is now; checked again below against the snapshot's.
  const definition = parseGroupDefinition(groupId, body, await deps.catalogue());
  if (nestsDeeperThan(definition, MAX_DEFINITION_DEPTH)) {
    const where = definition.criteria !== undefined ? 'criteria' : 'blocks';
    throw new ValidationError(`Invalid group definition: ${where} nests too deep`, [
      { path: where, message: `nests deeper than ${MAX_DEFINITION_DEPTH} levels, more than can be stored` },
    ]);
  }
  // A DynamoDB item holds at most 400 KB; the definition is stored as one (with keys and metadata).
  const bytes = Buffer.byteLength(JSON.stringify(definition), 'utf8');
  if (bytes > MAX_DEFINITION_BYTES) {
    const where = definition.criteria !== undefined ? 'criteria' : 'blocks';
    throw new ValidationError(`Invalid group definition: ${where} is too large`, [
      {
        path: where,
        message: `the definition is ${bytes} bytes; at most ${MAX_DEFINITION_BYTES} can be stored`,
      },
    ]);
  }
  return withGroupSet(deps, async ({ groups, fields, rev }) => {
    const catalogue = catalogueOf(fields.map((f) => f.definition));
    // The catalogue may have changed since the parse: what is stored must fit the snapshot's.
    parseGroupDefinition(groupId, body, catalogue);
    const existing = groups.map((g) => g.definition);
    const clash = existing.find((d) => d.id !== groupId && d.id.toLowerCase() === groupId.toLowerCase());
    if (clash !== undefined) {
      throw new ConflictError(`Group "${clash.id}" already exists (ids ignore case)`);
    }
    const compiled = compileWithCandidate(existing, definition, catalogue);
    const stored = compiled.get(groupId)?.definition ?? definition;
    const nowIso = new Date(deps.nowMs()).toISOString();
    await deps.groups.changeGuarded({ definition: stored }, rev, nowIso);
    const created = !existing.some((d) => d.id === groupId);
    // Lint never blocks a save: the warnings come with the stored definition.
    const warnings = lintGroup(stored, catalogue);
    return { status: created ? 201 : 200, body: { ...stored, updatedAt: nowIso, warnings } };
  });
}

/**
 * Runs a group change against a consistent snapshot of the set, written only if no other change
 * landed meanwhile (two concurrent PUTs could otherwise each pass the cycle check and store a cycle,
 * which would stop every evaluation); re-validates against the new set when one did.
 */
export async function withGroupSet<T>(
  deps: QueryDeps,
  change: (snapshot: GroupSnapshot) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await change(await deps.groups.snapshot());
    } catch (e: unknown) {
      if (!(e instanceof GroupSetChangedError) || attempt >= 4) {
        if (e instanceof GroupSetChangedError)
          throw new ConflictError('Groups are being changed concurrently; retry');
        throw e;
      }
    }
  }
}

export async function deleteGroup(deps: QueryDeps, groupId: string) {
  return withGroupSet(deps, async ({ groups, fields, rev }) => {
    const existing = groups.map((g) => g.definition);
    if (!existing.some((d) => d.id === groupId)) throw new NotFoundError(`No group "${groupId}"`);
    const set = compileGroups(existing, { catalogue: catalogueOf(fields.map((f) => f.definition)) });
    const dependents = dependentsOf(set, groupId).filter((id) => id !== groupId);
    if (dependents.length > 0) {
      throw new ConflictError(
        `Group "${groupId}" is referenced by ${dependents.join(', ')}`,
        dependents.map((id) => ({ path: `groups.${id}`, message: `references "${groupId}"` })),
      );
    }
    await deps.groups.changeGuarded({ deleteId: groupId }, rev, new Date(deps.nowMs()).toISOString());
    return { deleted: groupId };
  });
}

export async function listMembers(
  deps: QueryDeps,
  groupId: string,
  q: { companyId?: string; limit: number; cursor?: string },
) {
  const list = `members:${groupId}:${q.companyId ?? ''}`;
  const start = decodeCursor(list, q.cursor);
  if ((await deps.reads.getGroup(groupId)) === undefined) throw new NotFoundError(`No group "${groupId}"`);
  const page = await deps.reads.members(groupId, q.companyId, q.limit, start);
  const endpoints = await deps.reads.endpoints(page.items.map((m) => String(m.endpointId)));
  const members = page.items.map((m) => {
    const e = endpoints.get(String(m.endpointId));
    return {
      endpointId: String(m.endpointId),
      companyId: String(m.companyId),
      siteId: e?.siteId ?? null,
      hostname: e?.hostname ?? null,
      since: String(m.since),
    };
  });
  return { members, cursor: encodeCursor(list, page.lastKey) };
}

export async function listTransitions(
  deps: QueryDeps,
  q: { groupId?: string; endpointId?: string; limit: number; cursor?: string },
) {
  const list = `transitions:${q.groupId ?? ''}:${q.endpointId ?? ''}`;
  const start = decodeCursor(list, q.cursor);
  const page = await deps.reads.transitions({ groupId: q.groupId, endpointId: q.endpointId }, q.limit, start);
  return { transitions: page.items, cursor: encodeCursor(list, page.lastKey) };
}

/**
 * Lint warnings of the stored group, or (with a definition in the body) of that definition as it
 * would be saved under this id, validated first; nothing is stored.
 */
export async function lintStoredGroup(deps: QueryDeps, groupId: string, body: unknown) {
  const { groups, fields } = await deps.groups.snapshot();
  const catalogue = catalogueOf(fields.map((f) => f.definition));
  const existing = groups.map((g) => g.definition);
  const given = typeof body === 'object' && body !== null && Object.keys(body).length > 0;
  let definition = existing.find((d) => d.id === groupId);
  if (given) {
    const parsed = parseGroupDefinition(groupId, body, catalogue);
    definition = compileWithCandidate(existing, parsed, catalogue).get(groupId)?.definition ?? parsed;
  } else if (definition === undefined) throw new NotFoundError(`No group "${groupId}"`);
  return { groupId, warnings: lintGroup(definition as GroupDefinition, catalogue) };
}
