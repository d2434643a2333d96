// Seals ingest keys at rest. Signature checks need the key itself server-side (a hash cannot verify
// an HMAC), so it is stored encrypted: on AWS by a KMS key (KEY_SEAL_KMS_KEY_ARN), locally by
// AES-256-GCM with a key of the local runtime's. The key id and company are bound as encryption
// context / associated data, so a sealed value copied onto another key's item does not open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { optionalEnv } from './config.ts';

export interface SealContext {
  readonly keyId: string;
  readonly companyId: string;
}

export interface KeySealer {
  seal(plaintext: string, context: SealContext): Promise<string>;
  open(sealed: string, context: SealContext): Promise<string>;
  /** Starts loading what `open` will need, so that it overlaps other work (a table read). */
  prepare?(): void;
}

const aad = (c: SealContext) => Buffer.from(`${c.keyId}\u0000${c.companyId}`, 'utf8');

/** AES-256-GCM: `base64(iv ‖ tag ‖ ciphertext)`. For the local runtime and tests. */
export function localSealer(key: Buffer): KeySealer {
  if (key.length !== 32) throw new Error('The local seal key must be 32 bytes');
  return {
    async seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    async open(sealed, context) {
      const raw = Buffer.from(sealed, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), {
        authTagLength: 16,
      }).setAAD(aad(context));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

/**
 * KMS Encrypt / Decrypt with the key id and company as encryption context (audited in CloudTrail).
 * The KMS client is loaded on first use: most requests (bearer keys, admin reads) never need it, and
 * module init is on every cold start's path. A key-signed request calls `prepare` before it reads the
 * key, so the load overlaps that read.
 */
export function kmsSealer(kmsKeyArn: string): KeySealer {
  const encryptionContext = (c: SealContext) => ({ keyId: c.keyId, companyId: c.companyId });
  let sdk:
    | undefined
    | Promise<{
        kms: import('@aws-sdk/client-kms').KMSClient;
        mod: typeof import('@aws-sdk/client-kms');
      }>;
  const load = () => {
    if (sdk === undefined) {
      sdk = import('@aws-sdk/client-kms').then((mod) => ({ mod, kms: new mod.KMSClient({}) }));
      // A failed load is not kept for the instance's life: the next call tries again.
      sdk.catch(() => {
        sdk = undefined;
      });
    }
    return sdk;
  };
  return {
    prepare() {
      // A failure here surfaces in seal or open, which load again.
      load().catch(() => {});
    },
    async seal(plaintext, context) {
      const { kms, mod } = await load();
      const out = await kms.send(
        new mod.EncryptCommand({
          KeyId: kmsKeyArn,
          Plaintext: Buffer.from(plaintext, 'utf8'),
          EncryptionContext: encryptionContext(context),
        }),
      );
      if (out.CiphertextBlob === undefined) throw new Error('KMS returned no ciphertext');
      return Buffer.from(out.CiphertextBlob).toString('base64');
    },
    async open(sealed, context) {
      const { kms, mod } = await load();
      const out = await kms.send(
        new mod.DecryptCommand({
          KeyId: kmsKeyArn,
          CiphertextBlob: Buffer.from(sealed, 'base64'),
          EncryptionContext: encryptionContext(context),
        }),
      );
      if (out.Plaintext === undefined) throw new Error('KMS returned no plaintext');
      return Buffer.from(out.Plaintext).toString('utf8');
    },
  };
}

/** KEY_SEAL_KMS_KEY_ARN on Lambda, KEYWATCH_SEAL_KEY (32 bytes, base64) locally. */
export function sealerFromEnvironment(): KeySealer {
  const arn = optionalEnv('KEY_SEAL_KMS_KEY_ARN');
  if (arn !== undefined) return kmsSealer(arn);
  const local = optionalEnv('KEYWATCH_SEAL_KEY');
  if (local !== undefined) return localSealer(Buffer.from(local, 'base64'));
  throw new Error('Set KEY_SEAL_KMS_KEY_ARN (KMS key) or KEYWATCH_SEAL_KEY (32 bytes, base64)');
}
