// The status page's summary at 10,000 endpoints over 100 companies (issue 9): GET /v1/companies
// answers within 1 s locally, the first call of a fresh instance included, with a bounded number of
// DynamoDB requests (no walk of the fleet per view). The fleet is loaded through the real pipeline,
// so the counters are the ones the stream kept; their totals are checked against what was sent.
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../functions/adapters/clients.ts';
import { createStatusReads } from '../functions/adapters/status-reads.ts';
import { createTallyStore } from '../functions/adapters/tally-store.ts';
import { createClient } from '../local/client.ts';
import { SCRIPT_OUTPUT } from '../test/fixtures/script-outputs.ts';
import type { BenchReport } from './run.ts';
import {
  inChildProcess,
  isMain,
  ms,
  percentile,
  quietPipeline,
  report,
  runAsMain,
  writeResult,
} from './support.ts';

const NAME = 'ui-summary';
const ENDPOINTS = 10_000;
const COMPANIES = 100;
const BATCH = 500;
const VIEWS = 30;
const BUDGET_MS = 1000;
const BUDGET_REQUESTS = 10;

/** Every 20th endpoint FAILED, every 33rd (not also failed) Key Missing, the rest backed up. */
function statusOf(n: number): string {
  if (n % 20 === 0) return SCRIPT_OUTPUT.failed;
  if (n % 33 === 0) return SCRIPT_OUTPUT.keyNotFound;
  return SCRIPT_OUTPUT.success;
}

async function measure(): Promise<BenchReport> {
  const { pipeline } = await quietPipeline(NAME, { tableName: `ui-${randomBytes(3).toString('hex')}` });
  try {
    const client = createClient({ url: pipeline.url, secret: pipeline.secret });
    const loadStart = performance.now();
    const observedAt = new Date().toISOString();
    for (let b = 0; b < ENDPOINTS / BATCH; b++) {
      const updates = Array.from({ length: BATCH }, (_, j) => {
        const n = b * BATCH + j;
        return {
          endpointId: `ui-${String(n).padStart(5, '0')}`,
          companyId: `company-${String(n % COMPANIES).padStart(3, '0')}`,
          siteId: 'hq',
          observedAt,
          hostname: `PC-${n}`,
          osType: 'Windows',
          endpointType: 'Laptop',
          fields: { 'BitLocker Key Backup Status': statusOf(n) },
        };
      });
      // A 500 (the local function's timeout on a loaded machine) is safe to retry: reports are idempotent.
      let res = await client.request('POST', '/v1/endpoints/status', { updates });
      for (let retry = 0; res.status === 500 && retry < 3; retry++)
        res = await client.request('POST', '/v1/endpoints/status', { updates });
      if (res.status !== 200) throw new Error(`load answered ${res.status}`);
      // One batch evaluated and counted before the next, so the load does not starve the API.
      await pipeline.drained();
    }
    await pipeline.drained();
    const loadMs = performance.now() - loadStart;
    console.log(
      `loaded ${ENDPOINTS} endpoints of ${COMPANIES} companies, counted, in ${(loadMs / 1000).toFixed(1)} s`,
    );

    // Views over HTTP, signed, as the page's session makes them (the first is the instance's first).
    const latencies: number[] = [];
    let body: { companies: { endpoints: number; failed: number; keyMissing: number }[] } | undefined;
    for (let i = 0; i < VIEWS; i++) {
      const t = performance.now();
      const res = await client.request('GET', '/v1/companies');
      latencies.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`summary answered ${res.status}`);
      body = res.body as typeof body;
    }
    const lines = body?.companies ?? [];
    const sum = (k: 'endpoints' | 'failed' | 'keyMissing') => lines.reduce((a, c) => a + c[k], 0);
    let expectFailed = 0;
    let expectMissing = 0;
    for (let n = 0; n < ENDPOINTS; n++) {
      if (statusOf(n) === SCRIPT_OUTPUT.failed) expectFailed++;
      else if (statusOf(n) === SCRIPT_OUTPUT.keyNotFound) expectMissing++;
    }
    const exact =
      lines.length === COMPANIES &&
      sum('endpoints') === ENDPOINTS &&
      sum('failed') === expectFailed &&
      sum('keyMissing') === expectMissing;

    // The same read the route makes, on a client that counts requests and read units.
    const counted = new DynamoDBClient({
      endpoint: pipeline.dynamodbEndpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const commands: string[] = [];
    let readUnits = 0;
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(String(context.commandName));
        (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
        const out = await next(args);
        const cc = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        for (const c of Array.isArray(cc) ? cc : cc === undefined ? [] : [cc])
          readUnits += Number((c as { CapacityUnits?: number }).CapacityUnits ?? 0);
        return out;
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const tally = createTallyStore(documentClient(counted), pipeline.tableName);
    await createStatusReads(documentClient(counted), pipeline.tableName).summary();
    const perView = [...commands];
    const viewUnits = readUnits;
    commands.length = 0;
    readUnits = 0;
    const censusStart = performance.now();
    await tally.censusIfDue(Date.now() + 2 * 3600_000);
    const censusMs = performance.now() - censusStart;
    const censusRequests = commands.length;
    const censusUnits = readUnits;
    counted.destroy();

    const sorted = [...latencies].sort((a, b) => a - b);
    const first = latencies[0] ?? Number.NaN;
    const p95 = percentile(sorted, 95);
    console.log(
      `summary over HTTP: first ${ms(first)}, p50 ${ms(percentile(sorted, 50))}, p95 ${ms(p95)}, max ${ms(sorted[sorted.length - 1] ?? Number.NaN)}`,
    );
    console.log(
      `per view: ${perView.length} requests (${perView.join(', ')}), ${viewUnits.toFixed(1)} read units`,
    );
    console.log(
      `hourly census: ${censusRequests} requests, ${censusUnits.toFixed(0)} read units, ${(censusMs / 1000).toFixed(1)} s`,
    );
    const budgets = [
      {
        budget: 'ui summary of 10,000 endpoints / 100 companies ≤ 1 s (first and p95)',
        measured: `first ${ms(first)}, p95 ${ms(p95)}`,
        pass: first <= BUDGET_MS && p95 <= BUDGET_MS,
      },
      {
        budget: `ui summary: ≤ ${BUDGET_REQUESTS} DynamoDB requests per view, counts exact`,
        measured: `${perView.length} requests, ${viewUnits.toFixed(1)} RCU; counts ${exact ? 'exact' : 'WRONG'}`,
        pass: perView.length <= BUDGET_REQUESTS && exact,
      },
    ];
    await writeResult(NAME, {
      endpoints: ENDPOINTS,
      companies: COMPANIES,
      loadMs,
      latencies,
      perView,
      viewUnits,
      census: { requests: censusRequests, readUnits: censusUnits, ms: censusMs },
      totals: { endpoints: sum('endpoints'), failed: sum('failed'), keyMissing: sum('keyMissing') },
      expected: { failed: expectFailed, keyMissing: expectMissing },
      budgets,
    });
    return report(budgets);
  } finally {
    await pipeline.stop();
  }
}

export const run = (): Promise<BenchReport> => inChildProcess(import.meta.url, NAME);

if (isMain(import.meta.url)) await runAsMain(measure);
