// Lambda bundles (DESIGN §7): each ≤ 400 KB minified; module init ≤ 1.25× that of a minimal bundle
// that only creates a DynamoDB client, median of 10 fresh Node 24 processes.
//
// Every entry is bundled with esbuild exactly as infra/function.ts configures NodejsFunction: ESM,
// minified, target node24, platform node, mainFields module/main, the createRequire banner, linked
// source map without sources, and `@aws-sdk/*` + `@smithy/*` external (the nodejs24.x runtime
// provides SDK v3). That deployed configuration is what the budget judges. The same bundles with the
// SDK inlined are built and measured beside it, for information.
//
// Init: a fresh process per sample, the Lambda environment of the function (dummy credentials,
// us-east-1, NODE_OPTIONS=--enable-source-maps as the stack sets it), `performance.now()` around
// `await import(bundle)`. A preload counts socket connections and DNS lookups: init must make none.
import { spawn } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ALIASES, ESM_REQUIRE_BANNER, EXTERNAL_MODULES } from '../infra/bundling.ts';
import type { BenchReport } from './run.ts';
import { median, RESULTS_DIR, report, writeResult } from './support.ts';

const NAME = 'bundles';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(RESULTS_DIR, 'bundles');
const FUNCTIONS = ['ingest', 'admin', 'evaluate', 'notify'] as const;
const SAMPLES = 10;
const SIZE_BUDGET_KB = 400;
const INIT_BUDGET_RATIO = 1.25;

// The deployed settings themselves (infra/bundling.ts): the bundle must be built the same way.
const BANNER = ESM_REQUIRE_BANNER;
const SDK_EXTERNALS = EXTERNAL_MODULES;

const MINIMAL_SOURCE = `// The reference: a bundle that only creates a DynamoDB client.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
export const client = new DynamoDBClient({});
`;

/** What the stack gives each function (BASE_ENVIRONMENT + bind* variables), with dummy values. */
const LAMBDA_ENV: Record<string, string> = {
  POWERTOOLS_SERVICE_NAME: 'keywatch',
  POWERTOOLS_METRICS_NAMESPACE: 'Keywatch',
  POWERTOOLS_LOG_LEVEL: 'INFO',
  NODE_OPTIONS: '--enable-source-maps',
  TABLE_NAME: 'keywatch-bench',
  SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:keywatch-signing-AbCdEf',
  KEY_SEAL_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:keywatch-alerts',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHDUMMY',
  AWS_SECRET_ACCESS_KEY: 'bench-dummy-secret',
  AWS_SESSION_TOKEN: 'bench-dummy-token',
  AWS_LAMBDA_FUNCTION_NAME: 'keywatch-bench',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** Preload: counts every outgoing connection and DNS lookup made while the bundle initialises. */
const GUARD = `
import net from 'node:net';
import dns from 'node:dns';
globalThis.__benchNetwork = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  globalThis.__benchNetwork.push('connect ' + JSON.stringify(args[0]).slice(0, 80));
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  globalThis.__benchNetwork.push('lookup ' + host);
  return lookup.call(this, host, ...rest);
};
`;

const PROBE = `
const url = process.argv[1];
const t0 = performance.now();
await import(url);
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 50));
process.stdout.write(JSON.stringify({ ms, network: globalThis.__benchNetwork ?? [] }));
`;

interface Bundle {
  readonly name: string;
  readonly variant: 'sdk-external' | 'sdk-bundled';
  readonly file: string;
  readonly bytes: number;
  readonly mapBytes: number;
}

async function bundle(name: string, entry: string, variant: Bundle['variant']): Promise<Bundle> {
  const dir = join(OUT, variant, name);
  await rm(dir, { recursive: true, force: true });
  const file = join(dir, 'index.mjs');
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    banner: { js: BANNER },
    alias: { ...ALIASES },
    external: variant === 'sdk-external' ? SDK_EXTERNALS : [],
    absWorkingDir: ROOT,
    logLevel: 'error',
  });
  return { name, variant, file, bytes: (await stat(file)).size, mapBytes: (await stat(`${file}.map`)).size };
}

function initOnce(file: string, guard: string): Promise<{ ms: number; network: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', guard, '--input-type=module', '-e', PROBE, pathToFileURL(file).href],
      // A clean environment: only what Lambda would set, plus PATH.
      { env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`init of ${file} exited with ${code}: ${err.slice(0, 500)}`));
      else resolve(JSON.parse(out) as { ms: number; network: string[] });
    });
  });
}

export async function run(): Promise<BenchReport> {
  await mkdir(OUT, { recursive: true });
  const minimalEntry = join(OUT, 'minimal-entry.ts');
  await writeFile(minimalEntry, MINIMAL_SOURCE, 'utf8');
  const guard = join(OUT, 'network-guard.mjs');
  await writeFile(guard, GUARD, 'utf8');

  const bundles: Bundle[] = [];
  for (const variant of ['sdk-external', 'sdk-bundled'] as const) {
    bundles.push(await bundle('minimal', minimalEntry, variant));
    for (const fn of FUNCTIONS)
      bundles.push(await bundle(fn, join(ROOT, 'functions', fn, 'handler.ts'), variant));
  }

  // Interleaved: sample i of every bundle before sample i + 1 of any, so drift hits all alike.
  const samples = new Map<Bundle, number[]>(bundles.map((b) => [b, []]));
  const network = new Map<Bundle, Set<string>>(bundles.map((b) => [b, new Set()]));
  for (let i = 0; i < SAMPLES; i++) {
    for (const b of bundles) {
      const r = await initOnce(b.file, guard);
      samples.get(b)?.push(r.ms);
      for (const n of r.network) network.get(b)?.add(n);
    }
  }

  const rows = bundles.map((b) => {
    const init = median(samples.get(b) ?? []);
    const minimal = bundles.find((x) => x.variant === b.variant && x.name === 'minimal') as Bundle;
    const base = median(samples.get(minimal) ?? []);
    return {
      ...b,
      kb: b.bytes / 1024,
      initMs: init,
      ratio: init / base,
      network: [...(network.get(b) ?? [])],
    };
  });
  for (const variant of ['sdk-external', 'sdk-bundled'] as const) {
    console.log(
      `\n${variant === 'sdk-external' ? 'as deployed: @aws-sdk/* and @smithy/* external (runtime SDK)' : 'for information: SDK bundled in'}`,
    );
    console.log(
      `${'bundle'.padEnd(10)} ${'size'.padStart(10)} ${'map'.padStart(10)} ${'init median'.padStart(12)} ${'vs minimal'.padStart(10)}  network at init`,
    );
    for (const r of rows.filter((x) => x.variant === variant)) {
      console.log(
        `${r.name.padEnd(10)} ${`${r.kb.toFixed(1)} KB`.padStart(10)} ${`${(r.mapBytes / 1024).toFixed(0)} KB`.padStart(10)} ${`${r.initMs.toFixed(1)} ms`.padStart(12)} ${`${r.ratio.toFixed(2)}×`.padStart(10)}  ${r.network.length === 0 ? 'none' : r.network.join('; ')}`,
      );
    }
  }
  console.log(
    `\n(init: median of ${SAMPLES} fresh Node ${process.version} processes each, interleaved; bundles in ${OUT})`,
  );

  const deployed = rows.filter((r) => r.variant === 'sdk-external' && r.name !== 'minimal');
  const budgets = [
    ...deployed.map((r) => ({
      budget: `${r.name} bundle ≤ ${SIZE_BUDGET_KB} KB minified`,
      measured: `${r.kb.toFixed(1)} KB`,
      pass: r.kb <= SIZE_BUDGET_KB,
    })),
    ...deployed.map((r) => ({
      budget: `${r.name} init ≤ ${INIT_BUDGET_RATIO}× minimal DynamoDB client bundle`,
      measured: `${r.ratio.toFixed(2)}× (${r.initMs.toFixed(1)} ms vs ${(r.initMs / r.ratio).toFixed(1)} ms)`,
      pass: r.ratio <= INIT_BUDGET_RATIO,
    })),
    {
      budget: 'no network access at module init',
      measured: `${rows.filter((r) => r.network.length > 0).length} of ${rows.length} bundles touched the network`,
      pass: rows.every((r) => r.network.length === 0),
    },
  ];
  await writeResult(NAME, {
    samples: SAMPLES,
    node: process.version,
    environment: Object.keys(LAMBDA_ENV),
    bundles: rows.map(({ file, ...r }) => ({
      ...r,
      file: file.replace(ROOT, ''),
      samplesMs: samples.get(bundles.find((b) => b.file === file) as Bundle),
    })),
    budgets,
  });
  return report(budgets);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
