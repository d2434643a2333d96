// Custom field definitions in the table: one item per field (`FIELDS` / `FIELD#<LEVEL>#<name>`), all
// in one partition so the catalogue is one consistent Query. Changes go through the group store's
// guarded transaction (they bump the same revision as group changes); seeding adds missing ones.
import { type DynamoDBDocumentClient, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { Catalogue, CatalogueSource, FieldDefinition } from '#core/catalogue.ts';
import { catalogueOf } from '#core/shipped-catalogue.ts';
import { ITEM, keys, partitionQuery } from './keys.ts';

export function fieldItem(definition: FieldDefinition, nowIso: string) {
  return {
    ...keys.field(definition.level, definition.name),
    type: ITEM.field,
    level: definition.level,
    name: definition.name,
    definition,
    updatedAt: nowIso,
  };
}

export interface StoredField {
  readonly definition: FieldDefinition;
  readonly updatedAt: string;
}

export function createFieldStore(doc: DynamoDBDocumentClient, tableName: string) {
  return {
    /** Every stored custom field, in key order (level, then name). */
    async list(consistent = true): Promise<StoredField[]> {
      const fields: StoredField[] = [];
      const pages = paginateQuery(
        { client: doc },
        {
          TableName: tableName,
          ...partitionQuery({ partition: keys.fieldsPartition }),
          ConsistentRead: consistent,
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          fields.push({ definition: item.definition as FieldDefinition, updatedAt: String(item.updatedAt) });
        }
      }
      return fields;
    },

    /** Adds a field only where none with its level and name exists (seeding the shipped catalogue). */
    async putIfAbsent(definition: FieldDefinition, nowIso: string): Promise<boolean> {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: fieldItem(definition, nowIso),
            ConditionExpression: 'attribute_not_exists(PK)',
          }),
        );
        return true;
      } catch (e: unknown) {
        if (e instanceof Error && e.name === 'ConditionalCheckFailedException') return false;
        throw e;
      }
    },
  };
}

export type FieldStore = ReturnType<typeof createFieldStore>;

/**
 * The catalogue one API instance validates against, read at most once per `ttlMs` (one Query of the
 * FIELDS partition), so a status update costs no read: a field change reaches every instance within
 * `ttlMs`. Concurrent callers share one load; a failed load is not kept.
 */
export function cachedCatalogue(
  store: Pick<FieldStore, 'list'>,
  opts: { readonly ttlMs: number; readonly nowMs: () => number },
): CatalogueSource {
  let cached: { catalogue: Promise<Catalogue>; at: number } | undefined;
  return () => {
    const now = opts.nowMs();
    if (cached === undefined || now - cached.at >= opts.ttlMs) {
      const loading = store.list().then((fields) => catalogueOf(fields.map((f) => f.definition)));
      const entry = { catalogue: loading, at: now };
      cached = entry;
      loading.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.catalogue;
  };
}

/** The stored catalogue read afresh (consistently) at each call: the admin routes' source. */
export function storedCatalogue(store: Pick<FieldStore, 'list'>): CatalogueSource {
  return async () => catalogueOf((await store.list(true)).map((f) => f.definition));
}

/** How long an ingest instance trusts the catalogue it read (FIELD_CACHE_MS, default 5 s). */
export const DEFAULT_FIELD_CACHE_MS = 5_000;
