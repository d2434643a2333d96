// Lambda bundles: each ≤ 400 KB minified; module init ≤ 1.25× that of a minimal bundle that only
// creates a DynamoDB client, median of 10 fresh Node 24 processes. And, because init work moved to
// the first request is paid by that request, the first invocation too.
//
// Every entry is bundled with esbuild exactly as infra/function.ts configures NodejsFunction: ESM,
// minified, target node24, platform node, mainFields module/main, the createRequire banner, the
// aliases, linked source map without sources, and `@aws-sdk/*` + `@smithy/*` external (the
// nodejs24.x runtime provides SDK v3). That deployed configuration is what the budget judges. The
// same bundles with the SDK inlined are built beside it, for their size only.
//
// A sample is a pair of fresh processes, the minimal bundle and a function's, launched one right
// after the other (in alternating order), with the Lambda environment of the function (dummy
// credentials, us-east-1; NODE_OPTIONS=--enable-source-maps only with BUNDLES_SOURCE_MAPS=1, as the stack
// sets it only with `-c sourceMaps=true`); each times
// `await import(bundle)` with `performance.now()`. The budget is judged on the median of the pairs'
// ratios: on a shared machine the load drifts by tens of percent within a minute, and a pair sees
// nearly the same load, where medians of separately taken samples do not. Each span is timed twice:
// wall clock, and CPU time (process.cpuUsage), which waiting for a busy core does not inflate; the
// budget is judged on CPU time (init is CPU work: files come from the page cache). The function's process
// then hands its handler the first request of bench/first-requests.ts (AWS calls answered by a
// loopback stub, bench/aws-stub.ts, through AWS_ENDPOINT_URL) and times it: cold start = init +
// first invocation. A preload counts socket connections and DNS lookups: init must make none.
import { spawn } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ALIASES, ESM_REQUIRE_BANNER, EXTERNAL_MODULES } from '../infra/bundling.ts';
import { startAwsStub } from './aws-stub.ts';
import { type FirstRequest, firstRequests } from './first-requests.ts';
import type { BenchReport } from './run.ts';
import { median, RESULTS_DIR, report, writeResult } from './support.ts';

const NAME = 'bundles';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(RESULTS_DIR, 'bundles');
const FUNCTIONS = ['ingest', 'admin', 'evaluate', 'notify'] as const;
const SAMPLES = 10;
const SIZE_BUDGET_KB = 400;
const INIT_BUDGET_RATIO = 1.25;
const MARKER = '@@keywatch-bench@@';

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
  ...(process.env.BUNDLES_SOURCE_MAPS === '1' ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
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

/** Preload: records every outgoing connection and DNS lookup (the probe reads them after init). */
const GUARD = `
import net from 'node:net';
import dns from 'node:dns';
globalThis.__benchNetwork = [];
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // Node passes (options), (port, host), or internally [options, callback].
  const to = Array.isArray(args[0]) ? args[0][0] : args[0];
  const where = typeof to === 'object' && to !== null ? \`\${to.host ?? ''}:\${to.port ?? to.path ?? ''}\` : String(to);
  globalThis.__benchNetwork.push('connect ' + where);
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  globalThis.__benchNetwork.push('lookup ' + host);
  return lookup.call(this, host, ...rest);
};
`;

/** Child: init, then (given an event file) the first invocation; the result follows a marker line,
 *  since the functions' own logs and metrics share stdout. */
const PROBE = `
import { readFileSync } from 'node:fs';
const [url, eventFile] = process.argv.slice(1);
const c0 = process.cpuUsage();
const t0 = performance.now();
const mod = await import(url);
const ms = performance.now() - t0;
const c1 = process.cpuUsage();
const cpuMs = (c1.user - c0.user + c1.system - c0.system) / 1000;
const network = [...(globalThis.__benchNetwork ?? [])];
let firstMs;
let firstCpuMs;
let result;
if (eventFile) {
  const event = JSON.parse(readFileSync(eventFile, 'utf8'));
  const context = {
    callbackWaitsForEmptyEventLoop: false, functionName: 'keywatch-bench', functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:keywatch-bench',
    memoryLimitInMB: '256', awsRequestId: crypto.randomUUID(), logGroupName: '/aws/lambda/keywatch-bench',
    logStreamName: 'bench', getRemainingTimeInMillis: () => 30000,
  };
  const c2 = process.cpuUsage();
  const t1 = performance.now();
  result = await mod.handler(event, context);
  firstMs = performance.now() - t1;
  const c3 = process.cpuUsage(c2);
  firstCpuMs = (c3.user + c3.system) / 1000;
}
process.stdout.write('\\n${MARKER}' + JSON.stringify({ ms, cpuMs, firstMs, firstCpuMs, network, result }));
process.exit(0);
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

interface ProbeResult {
  readonly ms: number;
  /** CPU time (user + system) of the same span: what a loaded machine disturbs least. */
  readonly cpuMs: number;
  readonly firstMs?: number;
  readonly firstCpuMs?: number;
  readonly network: string[];
  readonly result?: { statusCode?: number; body?: string; batchItemFailures?: unknown[] };
  /** What the function logged (shown when its first request failed). */
  readonly log?: string;
}

function probe(file: string, guard: string, env: Record<string, string>, eventFile?: string) {
  return new Promise<ProbeResult>((resolve, reject) => {
    const args = ['--import', guard, '--input-type=module', '-e', PROBE, pathToFileURL(file).href];
    if (eventFile !== undefined) args.push(eventFile);
    // A clean environment: only what Lambda would set, plus PATH.
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const at = out.lastIndexOf(MARKER);
      if (code !== 0 || at === -1)
        reject(new Error(`${file} exited with ${code}: ${err.slice(0, 500)} ${out.slice(-500)}`));
      else resolve({ ...(JSON.parse(out.slice(at + MARKER.length)) as ProbeResult), log: out.slice(0, at) });
    });
  });
}

/** A first request that stopped early (a 401, a failed record) would time nothing worth knowing. */
function checkFirst(req: FirstRequest, r: ProbeResult, calls: readonly string[]): void {
  const got = r.result;
  const ok =
    'statusCode' in req.expect
      ? got?.statusCode === req.expect.statusCode
      : Array.isArray(got?.batchItemFailures) && got.batchItemFailures.length === 0;
  const missing = req.calls.filter((c) => !calls.includes(c));
  if (!ok || missing.length > 0)
    throw new Error(
      `first request ${req.name} did not do its work: ${JSON.stringify(got).slice(0, 300)}; calls ${calls.join(', ')}; missing ${missing.join(', ')}\n${(r.log ?? '').slice(-2000)}`,
    );
}

const fmt = (x: number) => `${x.toFixed(1)} ms`;

export async function run(): Promise<BenchReport> {
  await mkdir(OUT, { recursive: true });
  const minimalEntry = join(OUT, 'minimal-entry.ts');
  await writeFile(minimalEntry, MINIMAL_SOURCE, 'utf8');
  const guard = join(OUT, 'network-guard.mjs');
  await writeFile(guard, GUARD, 'utf8');

  const bundles = new Map<string, Bundle>();
  const inlined: Bundle[] = [];
  bundles.set('minimal', await bundle('minimal', minimalEntry, 'sdk-external'));
  for (const fn of FUNCTIONS) {
    bundles.set(fn, await bundle(fn, join(ROOT, 'functions', fn, 'handler.ts'), 'sdk-external'));
    inlined.push(await bundle(fn, join(ROOT, 'functions', fn, 'handler.ts'), 'sdk-bundled'));
  }
  const minimal = bundles.get('minimal') as Bundle;

  let current = firstRequests();
  const stub = await startAwsStub(() => current.data);
  const env = { ...LAMBDA_ENV, AWS_ENDPOINT_URL: stub.url };

  interface Sample {
    readonly request: string;
    readonly fn: string;
    readonly minimalMs: number;
    readonly minimalCpuMs: number;
    readonly initMs: number;
    readonly initCpuMs: number;
    readonly firstMs: number;
    readonly firstCpuMs: number;
  }
  const samples: Sample[] = [];
  const network = new Map<string, Set<string>>();
  const noteNetwork = (name: string, r: ProbeResult) => {
    const seen = network.get(name) ?? new Set<string>();
    for (const n of r.network) seen.add(n);
    network.set(name, seen);
  };
  try {
    for (let i = 0; i < SAMPLES; i++) {
      current = firstRequests();
      for (const [k, req] of current.requests.entries()) {
        const eventFile = join(OUT, `event-${req.fn}-${k}.json`);
        await writeFile(eventFile, JSON.stringify(req.event), 'utf8');
        const file = (bundles.get(req.fn) as Bundle).file;
        // Alternate which of the pair goes first, so neither always gets the warmer file cache.
        const minimalFirst = (i + k) % 2 === 0;
        let ref: ProbeResult | undefined;
        if (minimalFirst) ref = await probe(minimal.file, guard, env);
        stub.calls.length = 0;
        const r = await probe(file, guard, env, eventFile);
        checkFirst(req, r, stub.calls);
        if (!minimalFirst) ref = await probe(minimal.file, guard, env);
        noteNetwork('minimal', ref as ProbeResult);
        noteNetwork(req.fn, r);
        samples.push({
          request: req.name,
          fn: req.fn,
          minimalMs: (ref as ProbeResult).ms,
          minimalCpuMs: (ref as ProbeResult).cpuMs,
          initMs: r.ms,
          initCpuMs: r.cpuMs,
          firstMs: r.firstMs ?? Number.NaN,
          firstCpuMs: r.firstCpuMs ?? Number.NaN,
        });
      }
    }
  } finally {
    await stub.close();
  }

  const fnRows = FUNCTIONS.map((fn) => {
    const own = samples.filter((s) => s.fn === fn);
    const b = bundles.get(fn) as Bundle;
    return {
      name: fn,
      kb: b.bytes / 1024,
      mapKb: b.mapBytes / 1024,
      inlinedKb: ((inlined.find((x) => x.name === fn) as Bundle).bytes ?? 0) / 1024,
      initMs: median(own.map((s) => s.initMs)),
      minimalMs: median(own.map((s) => s.minimalMs)),
      ratio: median(own.map((s) => s.initMs / s.minimalMs)),
      initCpuMs: median(own.map((s) => s.initCpuMs)),
      cpuRatio: median(own.map((s) => s.initCpuMs / s.minimalCpuMs)),
      network: [...(network.get(fn) ?? [])],
    };
  });
  const requestRows = current.requests.map((req) => {
    const own = samples.filter((s) => s.request === req.name);
    return {
      name: req.name,
      initMs: median(own.map((s) => s.initMs)),
      firstMs: median(own.map((s) => s.firstMs)),
      coldMs: median(own.map((s) => s.initMs + s.firstMs)),
      /** Cold start in units of the paired minimal bundle's init: comparable across runs. */
      coldRatio: median(own.map((s) => (s.initMs + s.firstMs) / s.minimalMs)),
      initCpuMs: median(own.map((s) => s.initCpuMs)),
      firstCpuMs: median(own.map((s) => s.firstCpuMs)),
      coldCpuMs: median(own.map((s) => s.initCpuMs + s.firstCpuMs)),
      coldCpuRatio: median(own.map((s) => (s.initCpuMs + s.firstCpuMs) / s.minimalCpuMs)),
    };
  });

  const col = (x: string, w: number) => x.padStart(w);
  console.log('\nas deployed: @aws-sdk/* and @smithy/* external (runtime SDK)');
  console.log(
    `${'bundle'.padEnd(10)} ${col('size', 9)} ${col('map', 7)} ${col('SDK inlined', 12)} ${col('init', 9)} ${col('ratio', 6)} ${col('init CPU', 9)} ${col('ratio', 6)}  network at init`,
  );
  console.log(
    `${'minimal'.padEnd(10)} ${col(`${(minimal.bytes / 1024).toFixed(1)} KB`, 9)} ${col('', 7)} ${col('', 12)} ${col(fmt(median(samples.map((s) => s.minimalMs))), 9)} ${col('', 6)} ${col(fmt(median(samples.map((s) => s.minimalCpuMs))), 9)} ${col('', 6)}  ${(network.get('minimal')?.size ?? 0) === 0 ? 'none' : [...(network.get('minimal') ?? [])].join('; ')}`,
  );
  for (const r of fnRows)
    console.log(
      `${r.name.padEnd(10)} ${col(`${r.kb.toFixed(1)} KB`, 9)} ${col(`${r.mapKb.toFixed(0)} KB`, 7)} ${col(`${r.inlinedKb.toFixed(0)} KB`, 12)} ${col(fmt(r.initMs), 9)} ${col(`${r.ratio.toFixed(2)}×`, 6)} ${col(fmt(r.initCpuMs), 9)} ${col(`${r.cpuRatio.toFixed(2)}×`, 6)}  ${r.network.length === 0 ? 'none' : r.network.join('; ')}`,
    );
  console.log(
    '(ratio: median over the pairs of init ÷ the paired minimal bundle init; wall clock, then CPU time)',
  );
  console.log('\ncold start = module init + first invocation (AWS answered on loopback: no network time)');
  console.log(
    `${'request'.padEnd(16)} ${col('init', 9)} ${col('first', 9)} ${col('cold', 9)} ${col('÷min', 6)}   ${col('CPU: init', 10)} ${col('first', 9)} ${col('cold', 9)} ${col('÷min', 6)}`,
  );
  for (const r of requestRows)
    console.log(
      `${r.name.padEnd(16)} ${col(fmt(r.initMs), 9)} ${col(fmt(r.firstMs), 9)} ${col(fmt(r.coldMs), 9)} ${col(r.coldRatio.toFixed(2), 6)}   ${col(fmt(r.initCpuMs), 10)} ${col(fmt(r.firstCpuMs), 9)} ${col(fmt(r.coldCpuMs), 9)} ${col(r.coldCpuRatio.toFixed(2), 6)}`,
    );
  console.log(
    `\n(medians over ${SAMPLES} pairs of fresh Node ${process.version} processes per request; ÷min: cold start in units of the paired minimal init; bundles in ${OUT})`,
  );

  const budgets = [
    ...fnRows.map((r) => ({
      budget: `${r.name} bundle ≤ ${SIZE_BUDGET_KB} KB minified`,
      measured: `${r.kb.toFixed(1)} KB`,
      pass: r.kb <= SIZE_BUDGET_KB,
    })),
    // Judged on CPU time: on the shared machine the paired wall-clock ratios of one function moved
    // between 0.8× and 1.9× from run to run (load average 13-24), the CPU-time ratios by ±0.06.
    ...fnRows.map((r) => ({
      budget: `${r.name} init ≤ ${INIT_BUDGET_RATIO}× minimal DynamoDB client bundle`,
      measured: `${r.cpuRatio.toFixed(2)}× CPU time, ${r.ratio.toFixed(2)}× wall clock (medians of paired ratios; ${fmt(r.initCpuMs)} CPU, ${fmt(r.initMs)} wall)`,
      pass: r.cpuRatio <= INIT_BUDGET_RATIO,
    })),
    {
      budget: 'no network access at module init',
      measured: `${[...network.values()].filter((n) => n.size > 0).length} of ${network.size} bundles touched the network`,
      pass: [...network.values()].every((n) => n.size === 0),
    },
  ];
  await writeResult(NAME, {
    samples: SAMPLES,
    node: process.version,
    environment: Object.keys(LAMBDA_ENV),
    bundles: fnRows,
    firstRequests: requestRows,
    raw: samples,
    budgets,
  });
  return report(budgets);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
