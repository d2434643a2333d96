// The KMS sealer at the SDK boundary (aws-sdk-client-mock): what it sends KMS, that sealing and
// opening bind the same encryption context, and that a failed call is not remembered.
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { kmsSealer } from '#adapters/key-sealer.ts';

const ARN = 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000';
const kms = mockClient(KMSClient);
afterEach(() => kms.reset());
// The mock replaces the class's send for every instance; test files share a process (vitest.config.ts).
afterAll(() => kms.restore());

describe('kmsSealer', () => {
  it('encrypts and decrypts with the key id and company as encryption context', async () => {
    kms.on(EncryptCommand).callsFake(async (input: { Plaintext: Uint8Array }) => ({
      CiphertextBlob: Buffer.from(`sealed:${Buffer.from(input.Plaintext).toString('utf8')}`),
    }));
    kms.on(DecryptCommand).callsFake(async (input: { CiphertextBlob: Uint8Array }) => ({
      Plaintext: Buffer.from(
        Buffer.from(input.CiphertextBlob)
          .toString('utf8')
          .replace(/^sealed:/, ''),
      ),
    }));
    const sealer = kmsSealer(ARN);
    const context = { keyId: '0123456789abcdef', companyId: 'acme' };

    const sealed = await sealer.seal('kwk_secret', context);
    const opened = await sealer.open(sealed, context);

    expect(opened).toBe('kwk_secret');
    const [encrypt] = kms.commandCalls(EncryptCommand);
    const [decrypt] = kms.commandCalls(DecryptCommand);
    expect(encrypt?.args[0].input).toMatchObject({ KeyId: ARN, EncryptionContext: context });
    expect(decrypt?.args[0].input).toMatchObject({ KeyId: ARN, EncryptionContext: context });
  });

  it('asks again after a failure (a throttle is not kept)', async () => {
    kms
      .on(DecryptCommand)
      .rejectsOnce(new Error('ThrottlingException'))
      .resolves({ Plaintext: Buffer.from('k') });
    const sealer = kmsSealer(ARN);
    const context = { keyId: '0123456789abcdef', companyId: 'acme' };
    await expect(sealer.open('c2VhbGVk', context)).rejects.toThrow('ThrottlingException');
    expect(await sealer.open('c2VhbGVk', context)).toBe('k');
  });

  it('prepares without calling KMS, and opens with the client that preparing created', async () => {
    kms.on(DecryptCommand).resolves({ Plaintext: Buffer.from('kwk_secret') });
    const sealer = kmsSealer(ARN);

    sealer.prepare?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const sentBeforeOpen = kms.calls().length;
    const opened = await sealer.open('c2VhbGVk', { keyId: '0123456789abcdef', companyId: 'acme' });

    expect(sentBeforeOpen).toBe(0);
    expect(opened).toBe('kwk_secret');
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(1);
  });
});
