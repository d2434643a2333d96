// The ingest routes wired onto the shared HTTP chain: status reports, and RMM webhooks mapped to them.
// An ingest key's reports are confined to its company (and site) before anything is written.
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import type { Repository } from '#adapters/repository.ts';
import type { SecretsProvider } from '#adapters/secrets.ts';
import type { Catalogue } from '#core/catalogue.ts';
import { type ApiRequest, createApiHandler } from '#http/api.ts';
import type { IngestKeys } from '#http/middleware/authenticate.ts';
import { ownerOf } from '#http/principal.ts';
import { parseOrThrow } from '#http/validation.ts';
import { applyStatusUpdates, toStatusUpdates } from './ingest.ts';
import { StatusBody } from './schema.ts';
import { assertNotAllForbidden, assertWithinScope } from './scope.ts';
import { mapWebhook } from './webhooks.ts';

const WebhookPath = z.object({ integration: z.string().check(z.minLength(1), z.maxLength(64)) });

export interface IngestDeps {
  readonly repo: Pick<Repository, 'writeReport'>;
  readonly catalogue: Catalogue;
  readonly secrets: SecretsProvider;
  readonly ingestKeys?: IngestKeys;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly pathArrivesDecoded?: boolean;
}

export function createIngestHandler(deps: IngestDeps) {
  const now = deps.nowMs ?? Date.now;
  const report = async (req: ApiRequest, body: StatusBody) => {
    const owner = ownerOf(req.principal);
    assertWithinScope(body.updates, owner);
    const nowMs = now();
    const updates = toStatusUpdates(body, nowMs, deps.catalogue);
    const results = await applyStatusUpdates(updates, deps.repo, new Date(nowMs).toISOString(), owner);
    assertNotAllForbidden(results);
    return { status: 200, body: { results } };
  };
  return createApiHandler({
    secrets: deps.secrets,
    ...(deps.ingestKeys !== undefined ? { ingestKeys: deps.ingestKeys } : {}),
    logger: deps.logger,
    nowMs: now,
    ...(deps.pathArrivesDecoded !== undefined ? { pathArrivesDecoded: deps.pathArrivesDecoded } : {}),
    routes: {
      postStatus: (req) => report(req, parseOrThrow(StatusBody, req.body, 'status updates')),
      postWebhook: (req) => {
        const { integration } = parseOrThrow(WebhookPath, req.params, 'path');
        return report(req, mapWebhook(integration, req.body, ownerOf(req.principal) ?? {}));
      },
    },
  });
}
