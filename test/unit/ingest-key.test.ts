// Ingest keys without I/O: their format, the salted hash and its timing-safe comparison, sealing,
// the per-instance cache that bounds both reads and revocation, and that their items never reach the
// stream consumers.
import { randomBytes } from 'node:crypto';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { cachedIngestKeys } from '#adapters/ingest-key-store.ts';
import { localSealer } from '#adapters/key-sealer.ts';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import type { IngestKeyCredential } from '#core/ingest-key.ts';
import { generateIngestKey, keyIdOf } from '#core/ingest-key.ts';
import { matchesFilter } from '#local/stream-filter.ts';

const compared = vi.hoisted(() => ({ calls: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.calls += 1;
      return real.timingSafeEqual(a, b);
    },
  };
});

describe('ingest key format', () => {
  it('carries its id, and only a well-formed key yields one', () => {
    const { keyId, key } = generateIngestKey();
    expect(key).toMatch(/^kwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(keyIdOf(key)).toBe(keyId);
    expect(keyIdOf(`${key}x`)).toBeUndefined();
    expect(keyIdOf('current-secret')).toBeUndefined();
    expect(generateIngestKey().key).not.toBe(key);
  });
});

/**
 * The modules that compare, loaded afresh so that they bind the counting `node:crypto` above: files
 * share their worker's module cache (vitest.config.ts, `isolate: false`), and an earlier file may
 * have loaded them with the real one.
 */
async function comparers() {
  vi.resetModules();
  return { ...(await import('#core/ingest-key.ts')), ...(await import('#core/signing.ts')) };
}

describe('hash comparison', () => {
  it('matches only the key itself, comparing in constant time', async () => {
    const { generateIngestKey, hashIngestKey, ingestKeyMatches } = await comparers();
    const { keyId, key } = generateIngestKey();
    const stored = hashIngestKey(keyId, key);
    compared.calls = 0;
    expect(ingestKeyMatches(keyId, key, stored)).toBe(true);
    expect(ingestKeyMatches(keyId, `${key.slice(0, -1)}Z`, stored)).toBe(false);
    expect(compared.calls).toBe(2);
    // The hash is salted by the key id: the same secret under another id hashes differently.
    expect(hashIngestKey('0000000000000000', key)).not.toBe(stored);
  });

  it('verifies request signatures in constant time too', async () => {
    const { sign, verify } = await comparers();
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = sign('k', ts, 'GET', '/v1/groups', '');
    compared.calls = 0;
    expect(
      verify({ timestamp: ts, signature, method: 'GET', target: '/v1/groups', body: '' }, ['k'], Date.now())
        .ok,
    ).toBe(true);
    expect(compared.calls).toBeGreaterThan(0);
  });
});

describe('localSealer', () => {
  it('opens what it sealed, only under the same key id and company', async () => {
    const sealer = localSealer(randomBytes(32));
    const sealed = await sealer.seal('kwk_secret', { keyId: 'a', companyId: 'acme' });
    expect(sealed).not.toContain('kwk_secret');
    expect(await sealer.open(sealed, { keyId: 'a', companyId: 'acme' })).toBe('kwk_secret');
    await expect(sealer.open(sealed, { keyId: 'a', companyId: 'beta' })).rejects.toThrow();
    await expect(
      localSealer(randomBytes(32)).open(sealed, { keyId: 'a', companyId: 'acme' }),
    ).rejects.toThrow();
  });
});

describe('cachedIngestKeys', () => {
  const credential: IngestKeyCredential = {
    keyId: 'k1',
    companyId: 'acme',
    hash: 'h',
    signingKey: async () => 'kwk',
  };

  function storeAndClock() {
    let now = 0;
    const store = {
      reads: [] as string[],
      marks: [] as string[],
      async credential(keyId: string) {
        this.reads.push(keyId);
        return keyId === 'k1' ? credential : undefined;
      },
      async markUsed(keyId: string, day: string) {
        this.marks.push(`${keyId}@${day}`);
      },
    };
    const keys = cachedIngestKeys(store, { ttlMs: 10_000, nowMs: () => now });
    return { store, keys, advance: (ms: number) => (now += ms) };
  }

  it('reads a key once per TTL, and an unknown id once per TTL too', async () => {
    const { store, keys, advance } = storeAndClock();
    for (let i = 0; i < 5; i++) {
      expect(await keys.find('k1')).toBe(credential);
      expect(await keys.find('nope')).toBeUndefined();
    }
    expect(store.reads).toEqual(['k1', 'nope']);
    advance(10_000);
    await keys.find('k1');
    expect(store.reads).toEqual(['k1', 'nope', 'k1']);
  });

  it('records a use once per key per UTC day', async () => {
    const { store, keys } = storeAndClock();
    const day = Date.UTC(2026, 11, 2, 10);
    await keys.used('k1', day);
    await keys.used('k1', day + 3_600_000);
    await keys.used('k1', day + 24 * 3_600_000);
    expect(store.marks).toEqual(['k1@2026-12-02', 'k1@2026-12-03']);
  });

  it('forgets a failed read, so the next request tries again', async () => {
    let fail = true;
    const store = {
      async credential() {
        if (fail) throw new Error('throttled');
        return credential;
      },
      async markUsed() {},
    };
    const keys = cachedIngestKeys(store, { ttlMs: 10_000, nowMs: () => 0 });
    await expect(keys.find('k1')).rejects.toThrow('throttled');
    fail = false;
    expect(await keys.find('k1')).toBe(credential);
  });
});

describe('ingest key items on the stream', () => {
  it('pass neither the evaluate nor the notify filter', () => {
    const image = {
      type: { S: 'INGEST_KEY' },
      keyId: { S: 'k1' },
      companyId: { S: 'acme' },
      hash: { S: 'h' },
      sealed: { S: 's' },
    };
    for (const eventName of ['INSERT', 'MODIFY'] as const) {
      const record = {
        eventName,
        dynamodb: { NewImage: image, OldImage: image, Keys: {}, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      } as unknown as DynamoDBRecord;
      for (const patterns of [EVALUATE_FILTERS, NOTIFY_FILTERS]) {
        expect(patterns.some((p) => matchesFilter(record, p))).toBe(false);
      }
    }
  });
});
