// The bundles KeywatchFunction really builds (NodejsFunction with the project's esbuild options,
// infra/bundling.ts): what their module init loads. SDK clients that only some requests need must not
// load at init, or the cold-start budget pays for them on every instance (decisions §16).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALIASES } from '#infra/bundling.ts';
import { KeywatchFunction, PROJECT_ROOT } from '#infra/function.ts';

const FUNCTIONS = ['ingest', 'admin', 'notify'] as const;
type Name = (typeof FUNCTIONS)[number];

/** What the stack sets (dummy values), so each handler's init runs as on Lambda. */
const LAMBDA_ENV = {
  TABLE_NAME: 'keywatch-test',
  SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:keywatch-signing-AbCdEf',
  KEY_SEAL_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:keywatch-alerts',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_LAMBDA_FUNCTION_NAME: 'keywatch-test',
  POWERTOOLS_SERVICE_NAME: 'keywatch',
};

/** Imports a bundle in a fresh Node process and lists the SDK packages loaded by its init. */
function sdkPackagesLoadedByInit(bundle: string): Promise<string[]> {
  const probe = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(pathToFileURL(bundle).href)});
    const loaded = Object.keys(createRequire(import.meta.url).cache)
      .map((f) => /node_modules\\/(@aws-sdk\\/[^/]+)\\//.exec(f)?.[1])
      .filter((p) => p !== undefined);
    process.stdout.write(JSON.stringify([...new Set(loaded)].sort()));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', probe], {
      env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`exit ${code}: ${err}`)),
    );
  });
}

const bundles = new Map<Name, string>();
let outdir: string | undefined;

function scratch(): string {
  const dir = join(PROJECT_ROOT, '.keywatch');
  mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(() => {
  // Bundling on (the template tests skip it), for these functions only.
  // Inside the project, so the bundles resolve the external SDK from node_modules as Lambda does
  // from its runtime.
  outdir = mkdtempSync(join(scratch(), 'bundling-'));
  const app = new App({
    outdir,
    // Records each function's bundle directory on its resource.
    context: { 'aws:cdk:enable-asset-metadata': true },
  });
  const stack = new Stack(app, 'Bundling');
  const fns = FUNCTIONS.map(
    (name) =>
      [
        name,
        new KeywatchFunction(stack, name, {
          name,
          description: name,
          timeout: Duration.seconds(10),
          memorySize: 256,
          logRetention: RetentionDays.ONE_DAY,
        }),
      ] as const,
  );
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string> }>;
  };
  for (const [name, fn] of fns) {
    const id = stack.getLogicalId(fn.function.node.defaultChild as never);
    const assetPath = template.Resources[id]?.Metadata?.['aws:asset:path'];
    if (assetPath === undefined) throw new Error(`no asset for ${name}`);
    bundles.set(name, join(assembly.directory, assetPath, 'index.mjs'));
  }
}, 120_000);

afterAll(() => {
  if (outdir !== undefined) rmSync(outdir, { recursive: true, force: true });
});

describe('Lambda bundles', () => {
  it('are built with the aliases that load rarely needed SDK clients through require', () => {
    expect(Object.keys(ALIASES)).toEqual(['node:http', '@aws-sdk/client-secrets-manager']);
    for (const file of bundles.values()) expect(existsSync(file)).toBe(true);
  });

  it('load neither Secrets Manager nor KMS at init of the API functions: only DynamoDB', async () => {
    for (const name of ['ingest', 'admin'] as const) {
      const loaded = await sdkPackagesLoadedByInit(bundles.get(name) as string);
      expect(loaded, name).toContain('@aws-sdk/client-dynamodb');
      expect(loaded, name).not.toContain('@aws-sdk/client-secrets-manager');
      expect(loaded, name).not.toContain('@aws-sdk/client-kms');
    }
  });

  it('load no SNS client at init of notify', async () => {
    const loaded = await sdkPackagesLoadedByInit(bundles.get('notify') as string);
    expect(loaded).toContain('@aws-sdk/client-dynamodb');
    expect(loaded).not.toContain('@aws-sdk/client-sns');
  });
});
