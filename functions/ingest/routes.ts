// The status route wired onto the shared HTTP chain.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Repository } from '#adapters/repository.ts';
import type { SecretsProvider } from '#adapters/secrets.ts';
import { createApiHandler } from '#http/api.ts';
import { parseOrThrow } from '#http/validation.ts';
import { applyStatusUpdates, toStatusUpdates } from './ingest.ts';
import { StatusBody } from './schema.ts';

export interface IngestDeps {
  readonly repo: Repository;
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
        const updates = toStatusUpdates(parseOrThrow(StatusBody, req.body, 'status updates'), nowMs);
        const results = await applyStatusUpdates(updates, deps.repo, new Date(nowMs).toISOString());
        return { status: 200, body: { results } };
      },
    },
  });
}
