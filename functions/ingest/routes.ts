// The write routes (status reports, company and site upserts) wired onto the shared HTTP chain.
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import type { Repository } from '#adapters/repository.ts';
import type { SecretsProvider } from '#adapters/secrets.ts';
import type { Catalogue } from '#core/catalogue.ts';
import { createApiHandler } from '#http/api.ts';
import { Id, parseOrThrow } from '#http/validation.ts';
import { applyStatusUpdates, toStatusUpdates, upsertScope } from './ingest.ts';
import { ScopeBody, StatusBody } from './schema.ts';

const CompanyPath = z.object({ companyId: Id });
const SitePath = z.object({ companyId: Id, siteId: Id });

export interface IngestDeps {
  readonly repo: Repository;
  readonly catalogue: Catalogue;
  readonly secrets: SecretsProvider;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly pathArrivesDecoded?: boolean;
}

export function createIngestHandler(deps: IngestDeps) {
  const now = deps.nowMs ?? Date.now;
  return createApiHandler({
    secrets: deps.secrets,
    logger: deps.logger,
    nowMs: now,
    ...(deps.pathArrivesDecoded !== undefined ? { pathArrivesDecoded: deps.pathArrivesDecoded } : {}),
    routes: {
      postStatus: async (req) => {
        const nowMs = now();
        const updates = toStatusUpdates(
          parseOrThrow(StatusBody, req.body, 'status updates'),
          nowMs,
          deps.catalogue,
        );
        const results = await applyStatusUpdates(updates, deps.repo, new Date(nowMs).toISOString());
        return { status: 200, body: { results } };
      },
      putCompany: async (req) => {
        const body = parseOrThrow(ScopeBody, req.body, 'company');
        const scope = parseOrThrow(CompanyPath, req.params, 'path');
        return {
          status: 200,
          body: await upsertScope(scope, body, deps.repo, new Date(now()).toISOString(), deps.catalogue),
        };
      },
      putSite: async (req) => {
        const body = parseOrThrow(ScopeBody, req.body, 'site');
        const scope = parseOrThrow(SitePath, req.params, 'path');
        return {
          status: 200,
          body: await upsertScope(scope, body, deps.repo, new Date(now()).toISOString(), deps.catalogue),
        };
      },
    },
  });
}
