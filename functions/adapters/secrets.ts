// The active request-signing secrets. On Lambda they come from Secrets Manager (SECRET_ARN), read
// through Powertools parameters and cached for five minutes, so a rotation takes effect without a
// deploy. Locally they come from KEYWATCH_SECRET. Both hold a comma-separated list (or JSON).
import { parseSecrets } from '#core/signing.ts';
import { optionalEnv } from './config.ts';

const CACHE_SECONDS = 300;

export type SecretsProvider = () => Promise<readonly string[]>;

export function staticSecrets(raw: string): SecretsProvider {
  const secrets = parseSecrets(raw);
  if (secrets.length === 0) throw new Error('No signing secret configured');
  return async () => secrets;
}

type Parameters = typeof import('@aws-lambda-powertools/parameters/secrets');

/**
 * Powertools parameters and the Secrets Manager client are loaded on the first request that needs the
 * admin secret, not at init: requests signed with an ingest key (the ingest function's usual traffic)
 * never do. Loaded once per instance; its provider creates one client and caches the value.
 */
function secretsManagerSecrets(secretArn: string): SecretsProvider {
  let parameters: Promise<Parameters> | undefined;
  const load = () => {
    if (parameters === undefined) {
      parameters = import('@aws-lambda-powertools/parameters/secrets');
      // A failed load is not kept for the instance's life: the next request tries again.
      parameters.catch(() => {
        parameters = undefined;
      });
    }
    return parameters;
  };
  return async () => {
    const { getSecret } = await load();
    const raw = await getSecret(secretArn, { maxAge: CACHE_SECONDS });
    if (typeof raw !== 'string') throw new Error('Signing secret must be a string secret');
    const secrets = parseSecrets(raw);
    if (secrets.length === 0) throw new Error('Signing secret is empty');
    return secrets;
  };
}

/** SECRET_ARN on Lambda, KEYWATCH_SECRET locally; start-up fails when neither is set. */
export function secretsFromEnvironment(): SecretsProvider {
  const arn = optionalEnv('SECRET_ARN');
  if (arn !== undefined) return secretsManagerSecrets(arn);
  const raw = optionalEnv('KEYWATCH_SECRET');
  if (raw !== undefined) return staticSecrets(raw);
  throw new Error('Set SECRET_ARN (Secrets Manager) or KEYWATCH_SECRET (comma-separated secrets)');
}
