// Ingest keys in the table: created and revoked by the admin function, found (through a short-TTL
// cache, so steady-state ingest reads nothing) by the ingest function. Items hold the key's salted
// hash and the key sealed by a KeySealer, never the key in clear.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IngestKeyCredential, IngestKeys } from '#core/ingest-key.ts';
import { generateIngestKey, hashIngestKey } from '#core/ingest-key.ts';
import { intEnv } from './config.ts';
import { type KeySealer, sealerFromEnvironment } from './key-sealer.ts';
import { INDEX, ITEM, keys } from './keys.ts';

/** What the API shows of a key: never the key, its hash or its sealed form. */
export interface IngestKeyRecord {
  readonly keyId: string;
  readonly companyId: string;
  readonly siteId: string | null;
  readonly description: string | null;
  readonly createdAt: string;
  /** UTC day (YYYY-MM-DD) of the last successful request with the key, null when never used. */
  readonly lastUsedOn: string | null;
  readonly revokedAt: string | null;
}

/** Revoked keys stay listed for this long, then DynamoDB's TTL removes them. */
const REVOKED_RETENTION_S = 90 * 24 * 3600;

type Item = Record<string, unknown>;

function recordOf(item: Item): IngestKeyRecord {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    keyId: String(item.keyId),
    companyId: String(item.companyId),
    siteId: text(item.siteId),
    description: text(item.description),
    createdAt: String(item.createdAt),
    lastUsedOn: text(item.lastUsedOn),
    revokedAt: text(item.revokedAt),
  };
}

const PUBLIC_ATTRIBUTES = [
  'keyId',
  'companyId',
  'siteId',
  'description',
  'createdAt',
  'lastUsedOn',
  'revokedAt',
] as const;

/** Unsealed keys an instance keeps (by key id and sealed value), so KMS is asked once per key. */
const MAX_UNSEALED = 10_000;

export function createIngestKeyStore(doc: DynamoDBDocumentClient, tableName: string, sealer: KeySealer) {
  // Survives the key cache's refreshes: the sealed value only changes if the item is replaced, and a
  // revoked key is refused by its (re-read) item before its key is ever asked for.
  const unsealed = new Map<string, Promise<string>>();
  const unseal = (keyId: string, companyId: string, sealed: string): Promise<string> => {
    const id = `${keyId}:${sealed}`;
    let opened = unsealed.get(id);
    if (opened === undefined) {
      opened = sealer.open(sealed, { keyId, companyId });
      // A failure (a KMS throttle) is not kept: the next request asks again.
      opened.catch(() => unsealed.delete(id));
      if (unsealed.size >= MAX_UNSEALED) unsealed.delete(unsealed.keys().next().value as string);
      unsealed.set(id, opened);
    }
    return opened;
  };
  return {
    /** A new key; the returned `key` is the only time it exists outside the sealed item. */
    async create(
      scope: { companyId: string; siteId?: string },
      description: string | undefined,
      nowIso: string,
    ): Promise<{ record: IngestKeyRecord; key: string }> {
      const { keyId, key } = generateIngestKey();
      const item: Item = {
        ...keys.ingestKey(keyId),
        ...keys.ingestKeyByCompany(scope.companyId, nowIso, keyId),
        type: ITEM.ingestKey,
        keyId,
        companyId: scope.companyId,
        ...(scope.siteId !== undefined ? { siteId: scope.siteId } : {}),
        ...(description !== undefined ? { description } : {}),
        createdAt: nowIso,
        hash: hashIngestKey(keyId, key),
        sealed: await sealer.seal(key, { keyId, companyId: scope.companyId }),
      };
      await doc.send(
        new PutCommand({ TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }),
      );
      return { record: recordOf(item), key };
    },

    async list(companyId: string): Promise<IngestKeyRecord[]> {
      const out: IngestKeyRecord[] = [];
      const pages = paginateQuery(
        { client: doc },
        {
          TableName: tableName,
          IndexName: INDEX.byParent,
          KeyConditionExpression: 'GSI1PK = :pk AND begins_with(GSI1SK, :prefix)',
          ExpressionAttributeValues: {
            ':pk': keys.companyKeysPartition(companyId),
            ':prefix': keys.ingestKeysPrefix,
          },
          ProjectionExpression: PUBLIC_ATTRIBUTES.map((_, i) => `#p${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(PUBLIC_ATTRIBUTES.map((a, i) => [`#p${i}`, a])),
        },
      );
      for await (const page of pages) for (const item of page.Items ?? []) out.push(recordOf(item));
      return out;
    },

    /** Revokes a key of this company: its hash and sealed key are removed. Undefined if no such key. */
    async revoke(companyId: string, keyId: string, nowIso: string): Promise<IngestKeyRecord | undefined> {
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.ingestKey(keyId),
            UpdateExpression:
              'SET revokedAt = if_not_exists(revokedAt, :now), expiresAt = :exp REMOVE #hash, sealed',
            ConditionExpression: 'companyId = :company',
            ExpressionAttributeNames: { '#hash': 'hash' },
            ExpressionAttributeValues: {
              ':now': nowIso,
              ':exp': Math.floor(Date.parse(nowIso) / 1000) + REVOKED_RETENTION_S,
              ':company': companyId,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return recordOf(out.Attributes ?? {});
      } catch (e: unknown) {
        if (e instanceof ConditionalCheckFailedException) return undefined;
        throw e;
      }
    },

    /** Lets the sealer load what `open` needs while the key is being read (see IngestKeys). */
    prepareSigning(): void {
      sealer.prepare?.();
    },

    /** The active key with this id, read consistently (revocation must not be read stale). */
    async credential(keyId: string): Promise<IngestKeyCredential | undefined> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.ingestKey(keyId), ConsistentRead: true }),
      );
      const item = out.Item;
      if (item === undefined || item.revokedAt !== undefined) return undefined;
      if (typeof item.hash !== 'string' || typeof item.sealed !== 'string') return undefined;
      const companyId = String(item.companyId);
      const sealed = item.sealed;
      return {
        keyId,
        companyId,
        ...(typeof item.siteId === 'string' ? { siteId: item.siteId } : {}),
        hash: item.hash,
        signingKey: () => unseal(keyId, companyId, sealed),
      };
    },

    /** Sets the last-used day unless it is already that day (or the key is gone). */
    async markUsed(keyId: string, day: string): Promise<void> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.ingestKey(keyId),
            UpdateExpression: 'SET lastUsedOn = :day',
            ConditionExpression:
              'attribute_exists(PK) AND attribute_not_exists(revokedAt) AND (attribute_not_exists(lastUsedOn) OR lastUsedOn < :day)',
            ExpressionAttributeValues: { ':day': day },
          }),
        );
      } catch (e: unknown) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    },
  };
}

export type IngestKeyStore = ReturnType<typeof createIngestKeyStore>;

export interface KeyCacheOptions {
  /** How long a looked-up key (or its absence) is trusted: the bound on revocation. */
  readonly ttlMs: number;
  readonly nowMs: () => number;
  readonly maxEntries?: number;
  /** Told when the last-used mark fails; authentication goes on (the mark is bookkeeping). */
  readonly onMarkError?: (error: unknown) => void;
}

/**
 * At most one read per key per TTL per instance, and one last-used write per key per day. An unknown
 * id is remembered too, so a client retrying a revoked or mistyped key costs one read per TTL; a flood
 * of fresh made-up ids still costs one read each, which the stage's throttle (100 requests/s) bounds.
 */
export function cachedIngestKeys(
  store: Pick<IngestKeyStore, 'credential' | 'markUsed'> & Partial<Pick<IngestKeyStore, 'prepareSigning'>>,
  opts: KeyCacheOptions,
): IngestKeys {
  const maxEntries = opts.maxEntries ?? 10_000;
  const cache = new Map<string, { at: number; value: Promise<IngestKeyCredential | undefined> }>();
  const marked = new Map<string, string>();
  return {
    prepareSigning: () => store.prepareSigning?.(),
    find(keyId) {
      const now = opts.nowMs();
      const hit = cache.get(keyId);
      if (hit !== undefined && now - hit.at < opts.ttlMs) return hit.value;
      // Map order is insertion order: re-inserting on refresh makes the first entry the stalest.
      cache.delete(keyId);
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      const value = store.credential(keyId);
      cache.set(keyId, { at: now, value });
      value.catch(() => cache.delete(keyId));
      return value;
    },
    async used(keyId, nowMs) {
      const day = new Date(nowMs).toISOString().slice(0, 10);
      if (marked.get(keyId) === day) return;
      marked.set(keyId, day);
      if (marked.size > maxEntries) marked.delete(marked.keys().next().value as string);
      try {
        await store.markUsed(keyId, day);
      } catch (e: unknown) {
        marked.delete(keyId);
        opts.onMarkError?.(e);
      }
    },
  };
}

/** The ingest-key store and its cache as both API functions use them (KEY_CACHE_MS, default 10 s). */
export function ingestKeysFromEnvironment(
  doc: DynamoDBDocumentClient,
  tableName: string,
  onMarkError: (error: unknown) => void,
) {
  const store = createIngestKeyStore(doc, tableName, sealerFromEnvironment());
  return {
    store,
    // The bound on revocation: a revoked key works at most this long on an instance that had it.
    cached: cachedIngestKeys(store, { ttlMs: intEnv('KEY_CACHE_MS', 10_000), nowMs: Date.now, onMarkError }),
  };
}
