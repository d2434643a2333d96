// The ingest routes wired onto the shared HTTP chain: status reports, and RMM webhooks mapped to them.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Repository } from '#adapters/repository.ts';
import type { SecretsProvider } from '#adapters/secrets.ts';
import type { CatalogueSource } from '#core/catalogue.ts';
import { ForbiddenError, ValidationError } from '#core/errors.ts';
import type { IngestKeys } from '#core/ingest-key.ts';
import { createApiHandler } from '#http/api.ts';
import { ownerOf } from '#http/principal.ts';
import { parseOrThrow } from '#http/validation.ts';
import { reportStatus } from './ingest.ts';
import { StatusBody } from './schema.ts';
import { mapWebhook, webhookPath } from './webhooks.ts';

export interface IngestDeps {
  readonly repo: Pick<Repository, 'writeReport'>;
  /** The stored field catalogue; the handler caches it (functions/adapters/field-store.ts). */
  readonly catalogue: CatalogueSource;
  readonly secrets: SecretsProvider;
  readonly ingestKeys?: IngestKeys;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  readonly pathArrivesDecoded?: boolean;
}

export function createIngestHandler(deps: IngestDeps) {
  const now = deps.nowMs ?? Date.now;
  const use = {
    repo: deps.repo,
    catalogue: deps.catalogue,
    // Another company's key got there first, or a key is probing ids: operators should see it.
    onForbidden: (endpointId: string, owner: { companyId: string; siteId?: string }) =>
      deps.logger.warn('report refused: endpoint stored under another company or site', {
        endpointId,
        ...owner,
      }),
  };
  return createApiHandler({
    secrets: deps.secrets,
    ...(deps.ingestKeys !== undefined ? { ingestKeys: deps.ingestKeys } : {}),
    logger: deps.logger,
    nowMs: now,
    ...(deps.pathArrivesDecoded !== undefined ? { pathArrivesDecoded: deps.pathArrivesDecoded } : {}),
    routes: {
      postStatus: async (req) => {
        const body = parseOrThrow(StatusBody, req.body, 'status updates');
        return { status: 200, body: await reportStatus(body, ownerOf(req.principal), now(), use) };
      },
      postWebhook: async (req) => {
        const owner = ownerOf(req.principal);
        try {
          const body = mapWebhook(req.body, owner ?? {});
          return { status: 200, body: await reportStatus(body, owner, now(), use) };
        } catch (e: unknown) {
          throw inWebhookTerms(e, req.body);
        }
      },
    },
  });
}

/** Problems found on the mapped updates, named by what the webhook sent. */
function inWebhookTerms(e: unknown, body: unknown): unknown {
  if (!(e instanceof ValidationError) && !(e instanceof ForbiddenError)) return e;
  const details = e.details.map((d) => ({ ...d, path: webhookPath(d.path, body) }));
  const message = e.message.replace('status updates', 'webhook body');
  return e instanceof ValidationError
    ? new ValidationError(message, details)
    : new ForbiddenError(message, details);
}
