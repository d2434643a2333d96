// The admin routes (reads, groups, company and site upserts) wired onto the shared HTTP chain.
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import type { IngestKeyStore } from '#adapters/ingest-key-store.ts';
import type { Repository } from '#adapters/repository.ts';
import type { SecretsProvider } from '#adapters/secrets.ts';
import type { IngestKeys } from '#core/ingest-key.ts';
import { createApiHandler } from '#http/api.ts';
import { Id, parseOrThrow } from '#http/validation.ts';
import { deleteField, listFields, putField } from './fields.ts';
import { ImportBody, importSolution } from './import.ts';
import { CreateKeyBody, createKey, listKeys, revokeKey } from './keys.ts';
import { type PreviewDeps, previewGroup } from './preview.ts';
import {
  deleteGroup,
  getEndpoint,
  getGroup,
  lintStoredGroup,
  listGroups,
  listMembers,
  listTransitions,
  putGroup,
  type QueryDeps,
} from './queries.ts';
import { ScopeBody, upsertScope } from './scopes.ts';
import { SESSIONS, type StatusPageDeps, statusPageRoutes } from './status-page.ts';

const Limit = z.optional(
  z
    .string()
    .check(
      z.refine(
        (s) => /^\d{1,6}$/.test(s) && Number(s) >= 1 && Number(s) <= 500,
        'must be an integer from 1 to 500',
      ),
    ),
);
const Cursor = z.optional(z.string().check(z.minLength(1), z.maxLength(4096)));
const MembersQuery = z.strictObject({ companyId: z.optional(Id), limit: Limit, cursor: Cursor });
const TransitionsQuery = z.strictObject({
  groupId: z.optional(Id),
  endpointId: z.optional(Id),
  limit: Limit,
  cursor: Cursor,
});
const CompanyPath = z.object({ companyId: Id });
const SitePath = z.object({ companyId: Id, siteId: Id });
const KeyPath = z.object({ companyId: Id, keyId: Id });
const EndpointPath = z.object({ endpointId: Id });
const GroupPath = z.object({ groupId: Id });
const FieldPath = z.object({ level: z.string(), name: z.string().check(z.minLength(1), z.maxLength(512)) });

const DEFAULT_LIMIT = 50;
const limitOf = (raw: string | undefined) => (raw === undefined ? DEFAULT_LIMIT : Number(raw));

export interface AdminDeps extends PreviewDeps {
  readonly repo: QueryDeps['repo'] & Pick<Repository, 'upsertScope'>;
  readonly keys: Pick<IngestKeyStore, 'create' | 'list' | 'revoke'>;
  /** Ingest keys are authenticated here too, so one on an admin route is told 403, not 401. */
  readonly ingestKeys?: IngestKeys;
  readonly secrets: SecretsProvider;
  readonly logger: Logger;
  readonly pathArrivesDecoded?: boolean;
  readonly tally: StatusPageDeps['tally'];
}

export function createAdminHandler(deps: AdminDeps) {
  const ok = (body: unknown) => ({ status: 200, body });
  const nowIso = () => new Date(deps.nowMs()).toISOString();
  return createApiHandler({
    secrets: deps.secrets,
    ...(deps.ingestKeys !== undefined ? { ingestKeys: deps.ingestKeys } : {}),
    logger: deps.logger,
    nowMs: deps.nowMs,
    ...(deps.pathArrivesDecoded !== undefined ? { pathArrivesDecoded: deps.pathArrivesDecoded } : {}),
    sessions: SESSIONS,
    routes: {
      ...statusPageRoutes({ ...deps, secrets: deps.secrets, secureCookie: deps.pathArrivesDecoded === true }),
      putCompany: async (req) => {
        const body = parseOrThrow(ScopeBody, req.body, 'company');
        const scope = parseOrThrow(CompanyPath, req.params, 'path');
        return ok(await upsertScope(scope, body, deps.repo, nowIso(), await deps.catalogue()));
      },
      putSite: async (req) => {
        const body = parseOrThrow(ScopeBody, req.body, 'site');
        const scope = parseOrThrow(SitePath, req.params, 'path');
        return ok(await upsertScope(scope, body, deps.repo, nowIso(), await deps.catalogue()));
      },
      createKey: async (req) => {
        const { companyId } = parseOrThrow(CompanyPath, req.params, 'path');
        const body = parseOrThrow(CreateKeyBody, req.body, 'key');
        return { status: 201, body: await createKey(deps.keys, companyId, body, nowIso()) };
      },
      listKeys: async (req) =>
        ok(await listKeys(deps.keys, parseOrThrow(CompanyPath, req.params, 'path').companyId)),
      revokeKey: async (req) => {
        const { companyId, keyId } = parseOrThrow(KeyPath, req.params, 'path');
        return ok(await revokeKey(deps.keys, companyId, keyId, nowIso()));
      },
      getEndpoint: async (req) =>
        ok(await getEndpoint(deps, parseOrThrow(EndpointPath, req.params, 'path').endpointId)),
      listGroups: async () => ok(await listGroups(deps)),
      getGroup: async (req) => ok(await getGroup(deps, parseOrThrow(GroupPath, req.params, 'path').groupId)),
      putGroup: async (req) => putGroup(deps, parseOrThrow(GroupPath, req.params, 'path').groupId, req.body),
      deleteGroup: async (req) =>
        ok(await deleteGroup(deps, parseOrThrow(GroupPath, req.params, 'path').groupId)),
      listMembers: async (req) => {
        const { groupId } = parseOrThrow(GroupPath, req.params, 'path');
        const q = parseOrThrow(MembersQuery, req.query, 'query');
        return ok(await listMembers(deps, groupId, { ...q, limit: limitOf(q.limit) }));
      },
      listFields: async () => ok(await listFields(deps)),
      putField: async (req) => {
        const { level, name } = parseOrThrow(FieldPath, req.params, 'path');
        return putField(deps, level, name, req.body);
      },
      deleteField: async (req) => {
        const { level, name } = parseOrThrow(FieldPath, req.params, 'path');
        return ok(await deleteField(deps, level, name));
      },
      lintGroup: async (req) =>
        ok(await lintStoredGroup(deps, parseOrThrow(GroupPath, req.params, 'path').groupId, req.body)),
      previewGroup: async (req) => ok(await previewGroup(deps, req.body)),
      postImport: async (req) => ok(await importSolution(deps, parseOrThrow(ImportBody, req.body, 'import'))),
      listTransitions: async (req) => {
        const q = parseOrThrow(TransitionsQuery, req.query, 'query');
        return ok(await listTransitions(deps, { ...q, limit: limitOf(q.limit) }));
      },
    },
  });
}
