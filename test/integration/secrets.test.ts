// The admin signing secrets on Lambda: Secrets Manager through Powertools parameters, loaded on the
// first request that needs them (not at module init), then cached. Secrets Manager is mocked at the
// SDK boundary; the provider, Powertools and the SDK client are real.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { secretsFromEnvironment } from '#adapters/secrets.ts';

const secretsManager = mockClient(SecretsManagerClient);
// The mock replaces the class's send for every instance; test files share a process (vitest.config.ts).
afterAll(() => secretsManager.restore());
const saved = { ...process.env };
let arn = 0;
/** A fresh ARN per test: Powertools caches values per name for the instance's life. */
const nextArn = () => `arn:aws:secretsmanager:us-east-1:000000000000:secret:keywatch-test-${++arn}`;

beforeAll(() => {
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
});
afterEach(() => {
  secretsManager.reset();
  delete process.env.SECRET_ARN;
});
afterAll(() => {
  process.env = saved;
});

describe('admin secrets from Secrets Manager', () => {
  it('asks for nothing until the first request needs them, then reads the secret once', async () => {
    // Prepare
    const secretId = nextArn();
    process.env.SECRET_ARN = secretId;
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'new-secret,old-secret' });

    // Act
    const secrets = secretsFromEnvironment();
    const before = secretsManager.commandCalls(GetSecretValueCommand).length;
    const first = await secrets();
    const second = await secrets();

    // Assess
    expect(before).toBe(0);
    expect(first).toEqual(['new-secret', 'old-secret']);
    expect(second).toEqual(first);
    const calls = secretsManager.commandCalls(GetSecretValueCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.SecretId).toBe(secretId);
  });

  it('refuses an empty secret rather than accept no signature at all', async () => {
    process.env.SECRET_ARN = nextArn();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: ' , ' });

    await expect(secretsFromEnvironment()()).rejects.toThrow('Signing secret is empty');
  });

  it('tries again on the next request when Secrets Manager failed', async () => {
    process.env.SECRET_ARN = nextArn();
    secretsManager
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error('throttled'))
      .resolves({ SecretString: 'only-secret' });
    const secrets = secretsFromEnvironment();

    await expect(secrets()).rejects.toThrow();
    expect(await secrets()).toEqual(['only-secret']);
  });
});
