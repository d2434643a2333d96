// Ingest keys: per-company (optionally per-site) credentials that may only report status. The key a
// user receives is one string, `kwk_<keyId>_<secret>`: it is the HMAC signing secret (with
// `X-Keywatch-Key-Id: <keyId>`) and, for webhooks that cannot sign, the bearer token. keywatch stores
// a salted hash (for bearer checks) and, for signature checks, the key sealed by a KMS key.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'kwk_';
const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
const KEY_PATTERN = /^kwk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

export function isKeyId(value: string): boolean {
  return KEY_ID_PATTERN.test(value);
}

/** A new key: 64 random bits of id (not secret) and 256 random bits of secret. */
export function generateIngestKey(): { keyId: string; key: string } {
  const keyId = randomBytes(8).toString('hex');
  return { keyId, key: `${PREFIX}${keyId}_${randomBytes(32).toString('base64url')}` };
}

/** The key id inside a well-formed key, else undefined. */
export function keyIdOf(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/**
 * HMAC-SHA256 keyed by the key id: a salted hash. The secret is 256 random bits, so a slow hash
 * (scrypt) would add request latency without making a guess any less hopeless.
 */
export function hashIngestKey(keyId: string, key: string): string {
  return createHmac('sha256', keyId).update(key, 'utf8').digest('hex');
}

export function ingestKeyMatches(keyId: string, key: string, storedHash: string): boolean {
  const offered = Buffer.from(hashIngestKey(keyId, key), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return offered.length === stored.length && timingSafeEqual(offered, stored);
}

/** An ingest key as authentication needs it: scope, hash, and the key itself on demand. */
export interface IngestKeyCredential {
  readonly keyId: string;
  readonly companyId: string;
  readonly siteId?: string;
  /** `hashIngestKey(keyId, key)`: all a bearer check needs. */
  readonly hash: string;
  /** The key itself, unsealed on first use: only signature checks need it. */
  readonly signingKey: () => Promise<string>;
}

export interface IngestKeys {
  /** The active key with this id (cached by the implementation), else undefined. */
  find(keyId: string): Promise<IngestKeyCredential | undefined>;
  /** Records that the key was used (the implementation writes at most once per key per day). */
  used(keyId: string, nowMs: number): Promise<void>;
  /**
   * A signature check is coming: start loading what unsealing a key needs, so that it overlaps the
   * key's look-up instead of following it (the KMS client, on an instance's first signed request).
   */
  prepareSigning?(): void;
}
