// Fleet walk after a group change (issue 10 §5, docs/scale.md): N endpoints over 20 companies, then a
// new group that every endpoint enters, PUT through the API; the time until the pipeline has drained
// and every endpoint is a member, and the DynamoDB requests it took per endpoint walked, counted at
// the HTTP client (every request the process sends, by operation). Twice per setting:
//
// - settled: every endpoint was evaluated from its newest report, so the walk evaluates it itself and
//   writes several endpoints per transaction;
// - after a routine re-report: each endpoint re-reported what it said (a report no group reads, never
//   evaluated, so `mrev` < `rev`), and the walk hands every endpoint back to the stream (one write
//   each), whose record evaluates it — the usual case after a morning's reports.
//
// Each setting of FLEET_SEGMENTS (default "1,16": the walk in one job, as before segments, and in
// sixteen) runs in its own pipeline. FLEET_ENDPOINTS sets N (default 10,000).
import { createClient } from '../local/client.ts';
import type { BenchReport, BudgetResult } from './run.ts';
import {
  dynamoRequestCounter,
  inChildProcess,
  isMain,
  quietPipeline,
  report,
  runAsMain,
  writeResult,
} from './support.ts';

const NAME = 'fleet';
const ENDPOINTS = Number(process.env.FLEET_ENDPOINTS ?? 10_000);
const SEGMENTS = (process.env.FLEET_SEGMENTS ?? '1,16').split(',').map(Number);
const BATCH = 100;
const COMPANIES = 20;
const STATUS = '| All BitLocker keys are backed up successfully. |';

const requests = dynamoRequestCounter();

interface WalkResult {
  readonly phase: string;
  readonly segments: number;
  readonly ms: number;
  readonly members: number;
  readonly transitions: number;
  readonly distinct: number;
  readonly requests: Record<string, number>;
  readonly perEndpoint: Record<string, number>;
}

async function measureSetting(segments: number): Promise<WalkResult[]> {
  const { pipeline } = await quietPipeline(`${NAME}-${segments}`, { fleetSegments: segments });
  try {
    const client = createClient({ url: pipeline.url, secret: pipeline.secret });
    const ok = async (method: string, target: string, body?: unknown) => {
      let res = await client.request(method, target, body);
      // 500 means "safe to retry" (docs/api.md): on a loaded machine a function may time out.
      for (let retry = 0; res.status === 500 && retry < 3; retry++)
        res = await client.request(method, target, body);
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`${method} ${target} answered ${res.status}: ${res.text.slice(0, 300)}`);
      return res.body as Record<string, unknown>;
    };
    const load = async (observedAt: string) => {
      const started = performance.now();
      for (let b = 0; b < ENDPOINTS / BATCH; b++) {
        const updates = Array.from({ length: BATCH }, (_, j) => {
          const n = b * BATCH + j;
          return {
            endpointId: `fleet-${String(n).padStart(6, '0')}`,
            companyId: `company-${n % COMPANIES}`,
            siteId: 'hq',
            observedAt,
            hostname: `PC-${n}`,
            osType: 'Windows',
            endpointType: 'Laptop',
            fields: { 'BitLocker Key Backup Status': STATUS },
          };
        });
        const body = await ok('POST', '/v1/endpoints/status', { updates });
        // A retried request finds what its timed-out first attempt stored: unchanged.
        const stored = (body.results as { result: string }[]).filter(
          (r) => r.result === 'applied' || r.result === 'unchanged',
        );
        if (stored.length !== BATCH) throw new Error(`batch ${b}: ${stored.length} of ${BATCH} stored`);
      }
      await pipeline.drained();
      return performance.now() - started;
    };
    const walk = async (phase: string, groupId: string, criterion: object): Promise<WalkResult> => {
      await pipeline.drained();
      requests.reset();
      const t0 = performance.now();
      await ok('PUT', `/v1/groups/${groupId}`, { name: groupId, blocks: [[criterion]] });
      await pipeline.drained();
      const ms = performance.now() - t0;
      const counted = requests.snapshot();
      const perEndpoint = requests.per(ENDPOINTS);
      const groups = (await ok('GET', '/v1/groups')).groups as { id: string; memberCount: number }[];
      const members = groups.find((g) => g.id === groupId)?.memberCount ?? -1;
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/v1/transitions?groupId=${groupId}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const body = await ok('GET', q);
        ids.push(...(body.transitions as { endpointId: string }[]).map((t) => t.endpointId));
        cursor = body.cursor as string | null;
      } while (cursor !== null);
      const result = {
        phase,
        segments,
        ms,
        members,
        transitions: ids.length,
        distinct: new Set(ids).size,
        requests: counted,
        perEndpoint,
      };
      console.log(
        `[${segments} segment${segments === 1 ? '' : 's'}, ${phase}] group PUT → drained in ${(ms / 1000).toFixed(1)} s: ${members} members, ${ids.length} transitions (${result.distinct} endpoints); DynamoDB requests per endpoint: ${Object.entries(
          perEndpoint,
        )
          .map(([op, n]) => `${op} ${n}`)
          .join(', ')}`,
      );
      return result;
    };

    const loadMs = await load(new Date(Date.now() - 60_000).toISOString());
    console.log(
      `[${segments} segments] loaded ${ENDPOINTS} endpoints in ${(loadMs / 1000).toFixed(1)} s (drained)`,
    );
    const settled = await walk('settled', 'bench-fleet-windows', {
      field: 'OS Type',
      operator: 'Equal',
      values: ['Windows'],
    });
    const reloadMs = await load(new Date().toISOString());
    console.log(
      `[${segments} segments] routine re-report of ${ENDPOINTS} endpoints in ${(reloadMs / 1000).toFixed(1)} s (drained)`,
    );
    const handedOver = await walk('after a routine re-report', 'bench-fleet-laptops', {
      field: 'Endpoint Type',
      operator: 'Equal',
      values: ['Laptop'],
    });
    return [settled, handedOver];
  } finally {
    await pipeline.stop();
  }
}

async function measure(): Promise<BenchReport> {
  const results: WalkResult[] = [];
  for (const segments of SEGMENTS) results.push(...(await measureSetting(segments)));
  const budgets: BudgetResult[] = results.map((r) => ({
    budget: `fleet walk of ${ENDPOINTS} after a group PUT, ${r.segments} segment${r.segments === 1 ? '' : 's'}, ${r.phase}: none missed or twice`,
    measured: `${(r.ms / 1000).toFixed(1)} s, ${r.members} members, ${r.transitions} transitions of ${r.distinct} endpoints`,
    pass: r.members === ENDPOINTS && r.transitions === ENDPOINTS && r.distinct === ENDPOINTS,
  }));
  await writeResult(NAME, { endpoints: ENDPOINTS, results, budgets });
  return report(budgets);
}

export const run = (): Promise<BenchReport> => inChildProcess(import.meta.url, NAME);

if (isMain(import.meta.url)) await runAsMain(measure);
