// Lambda entry for the admin routes: reads, groups, company and site upserts, ingest keys (and
// 404 / 405 for unknown routes).
import { apiEnvironment } from '#adapters/api-environment.ts';
import { createFieldStore, storedCatalogue } from '#adapters/field-store.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { createStatusReads } from '#adapters/status-reads.ts';
import { createAdminHandler } from './routes.ts';

const { tableName, doc, keyStore, credentials } = apiEnvironment();

export const handler = createAdminHandler({
  repo: createRepository(doc, tableName),
  groups: createGroupStore(doc, tableName),
  fleet: createFleetPager(doc, tableName),
  reads: createQueryStore(doc, tableName),
  tally: createStatusReads(doc, tableName),
  catalogue: storedCatalogue(createFieldStore(doc, tableName)),
  keys: keyStore,
  nowMs: Date.now,
  ...credentials,
});
