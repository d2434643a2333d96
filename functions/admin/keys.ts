// Ingest-key lifecycle behind the admin routes: create (the key is in that one response and nowhere
// else), list (never the key), revoke (effective within the ingest function's key-cache TTL).
import * as z from 'zod/mini';
import type { IngestKeyStore } from '#adapters/ingest-key-store.ts';
import { NotFoundError } from '#core/errors.ts';
import { isKeyId } from '#core/ingest-key.ts';
import { Id } from '#http/validation.ts';

export const CreateKeyBody = z.strictObject({
  siteId: z.optional(Id),
  description: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

type Store = Pick<IngestKeyStore, 'create' | 'list' | 'revoke'>;

export async function createKey(store: Store, companyId: string, body: CreateKeyBody, nowIso: string) {
  const { record, key } = await store.create(
    { companyId, ...(body.siteId !== undefined ? { siteId: body.siteId } : {}) },
    body.description,
    nowIso,
  );
  return {
    ...record,
    key,
    notice: 'Store this key now: keywatch keeps only a hash and a sealed copy, and never shows it again.',
  };
}

export async function listKeys(store: Store, companyId: string) {
  return { keys: await store.list(companyId) };
}

export async function revokeKey(store: Store, companyId: string, keyId: string, nowIso: string) {
  // Not echoed when it is no key id: someone may have pasted the whole key.
  if (!isKeyId(keyId)) throw new NotFoundError('No such key: give the key id (16 hex digits), not the key');
  const record = await store.revoke(companyId, keyId, nowIso);
  if (record === undefined) throw new NotFoundError(`No key "${keyId}" for company "${companyId}"`);
  return record;
}
