// Deployment parameters from CDK context (`-c stage=prod -c alertEmails=a@x.com,b@y.com`). Bad input
// fails the synth with a message naming the bad value: a typo must not become a deployed
// subscription that nobody receives.

export interface DeploymentConfig {
  readonly stage: string;
  readonly alertEmails: readonly string[];
  readonly alertSms: readonly string[];
}

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

const STAGE = /^[a-z][a-z0-9-]{0,19}$/;
// Deliberately basic: one @, no spaces or commas, a dot in the domain. SNS confirms the address.
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;
// E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
const E164 = /^\+[1-9]\d{1,14}$/;

type ContextReader = (key: string) => unknown;

export function readDeploymentConfig(tryGetContext: ContextReader): DeploymentConfig {
  return {
    stage: parseStage(tryGetContext('stage')),
    alertEmails: parseList('alertEmails', tryGetContext('alertEmails'), EMAIL, 'an e-mail address'),
    alertSms: parseList(
      'alertSms',
      tryGetContext('alertSms'),
      E164,
      'an E.164 phone number like +15555550100',
    ),
  };
}

/** A yes/no option: `-c key=true` (a string from the command line) or a boolean in cdk.json. */
export function parseFlag(key: string, raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === '' || raw === false || raw === 'false') return false;
  if (raw === true || raw === 'true') return true;
  throw new ContextError(`Context "${key}" must be true or false; got ${JSON.stringify(raw)}`);
}

export function parseStage(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return 'dev';
  if (typeof raw !== 'string' || !STAGE.test(raw)) {
    throw new ContextError(
      `Context "stage" must be lower-case letters, digits and "-", starting with a letter, at most 20 characters; got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

/** Accepts a comma-separated string (from `-c`) or an array (from cdk.json); blanks are skipped. */
export function parseList(key: string, raw: unknown, shape: RegExp, what: string): string[] {
  if (raw === undefined || raw === null) return [];
  let items: unknown[];
  if (typeof raw === 'string') items = raw.split(',');
  else if (Array.isArray(raw)) items = raw;
  else
    throw new ContextError(`Context "${key}" must be a comma-separated string; got ${JSON.stringify(raw)}`);

  const values: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') {
      throw new ContextError(`Context "${key}": ${JSON.stringify(item)} is not ${what}`);
    }
    const value = item.trim();
    if (value === '') continue;
    if (!shape.test(value)) throw new ContextError(`Context "${key}": "${value}" is not ${what}`);
    if (!values.includes(value)) values.push(value);
  }
  return values;
}
