// Local end to end (DESIGN §7): signed status POST → alert line in the alerts file, p95 ≤ 1 s.
// A pool of endpoints alternates between a FAILED status and a successful one, so every POST is one
// transition of `bitlocker-key-backup-failed` (alerted on enter and on exit) and must yield exactly
// one alert line. POSTs go out at a steady rate without waiting for their alert (open loop); the file
// is polled every 5 ms and each line is matched to the oldest unanswered POST of its endpoint and event.
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { createClient } from '../local/client.ts';
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

const NAME = 'e2e';
const UPDATES = 240;
const POOL = 24;
/** One POST every this many ms: 20 a second, each endpoint revisited every 1.2 s. */
const SPACING_MS = 50;
const BUDGET_P95_MS = 1_000;
const FAILED_GROUP = 'bitlocker-key-backup-failed';
const FAILED = SCRIPT_OUTPUT.failed;
const SUCCESS = SCRIPT_OUTPUT.success;

interface AlertLine {
  readonly endpointId: string;
  readonly event: string;
  readonly groupId: string;
}

function parseAlert(line: string): AlertLine {
  const input = JSON.parse(line) as {
    Message: string;
    MessageAttributes: Record<string, { StringValue: string }>;
  };
  const transition = JSON.parse((JSON.parse(input.Message) as { default: string }).default) as {
    endpointId: string;
    groupId: string;
  };
  return {
    endpointId: transition.endpointId,
    groupId: transition.groupId,
    event: input.MessageAttributes.event?.StringValue ?? '?',
  };
}

/** Follows the alerts file from its current end, calling `onLine` with each complete line and when it was seen. */
async function followFile(path: string, onLine: (line: string, seenAt: number) => void) {
  const handle = await open(path, 'a+');
  let offset = (await handle.stat()).size;
  let partial = '';
  let stopped = false;
  const buffer = Buffer.alloc(1 << 20);
  const loop = (async () => {
    while (!stopped) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead > 0) {
        const seenAt = performance.now();
        offset += bytesRead;
        const lines = (partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') onLine(line, seenAt);
      } else {
        await sleep(5);
      }
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    await handle.close();
  };
}

async function measure(): Promise<BenchReport> {
  const { pipeline, alertsFile } = await quietPipeline(NAME);
  try {
    const client = createClient({ url: pipeline.url, secret: pipeline.secret });
    const post = async (endpointId: string, status: string) => {
      const res = await client.request('POST', '/v1/endpoints/status', {
        updates: [
          {
            endpointId,
            companyId: 'bench-e2e',
            siteId: 'hq',
            observedAt: new Date().toISOString(),
            hostname: endpointId.toUpperCase(),
            osType: 'Windows',
            endpointType: 'Laptop',
            fields: { 'BitLocker Key Backup Status': status },
          },
        ],
      });
      const result = (res.body as { results?: { result: string }[] }).results?.[0]?.result;
      if (res.status !== 200 || result !== 'applied') {
        throw new Error(`POST for ${endpointId} answered ${res.status} ${res.text}`);
      }
    };

    // Every endpoint starts successful: its first report alerts nothing (no group with an alert).
    const pool = Array.from({ length: POOL }, (_, i) => `e2e-${String(i).padStart(3, '0')}`);
    for (const id of pool) await post(id, SUCCESS);
    await pipeline.drained();
    await sleep(300);

    const pending = new Map<string, number[]>();
    const latencies: number[] = [];
    const unmatched: string[] = [];
    let lines = 0;
    const stopFollowing = await followFile(alertsFile, (line, seenAt) => {
      lines++;
      const alert = parseAlert(line);
      const queue = pending.get(`${alert.endpointId}|${alert.event}`);
      const sentAt = alert.groupId === FAILED_GROUP ? queue?.shift() : undefined;
      if (sentAt === undefined) unmatched.push(`${alert.groupId} ${alert.endpointId} ${alert.event}`);
      else latencies.push(seenAt - sentAt);
    });

    const failing = new Set<string>();
    const sends: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; i < UPDATES; i++) {
      const due = started + i * SPACING_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const id = pool[i % POOL] as string;
      const entering = !failing.has(id);
      if (entering) failing.add(id);
      else failing.delete(id);
      const key = `${id}|${entering ? 'entered' : 'exited'}`;
      const sentAt = performance.now();
      pending.set(key, [...(pending.get(key) ?? []), sentAt]);
      sends.push(post(id, entering ? FAILED : SUCCESS));
    }
    await Promise.all(sends);
    const sendSeconds = (performance.now() - started) / 1000;
    await pipeline.drained();
    // Alerts still in flight after the poller drains are at most the last few file appends.
    await sleep(1_000);
    await stopFollowing();

    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p95 = percentile(sorted, 95);
    const max = sorted[sorted.length - 1] ?? Number.NaN;
    const missing = [...pending.values()].reduce((n, q) => n + q.length, 0);
    console.log(
      `${UPDATES} signed status POSTs over ${POOL} endpoints, one every ${SPACING_MS} ms (${(UPDATES / sendSeconds).toFixed(1)}/s), each one transition of ${FAILED_GROUP}`,
    );
    console.log(
      `POST → alert line: p50 ${ms(p50)}, p95 ${ms(p95)}, max ${ms(max)} (n = ${latencies.length})`,
    );
    console.log(
      `alert lines: ${lines} for ${UPDATES} expected; matched ${latencies.length}, missing ${missing}, unexpected ${unmatched.length}`,
    );
    if (unmatched.length > 0) console.log(`unexpected: ${unmatched.slice(0, 5).join('; ')}`);

    const budgets = [
      {
        budget: 'local end to end p95 ≤ 1 s',
        measured: `p95 ${ms(p95)} (p50 ${ms(p50)}, max ${ms(max)})`,
        pass: p95 <= BUDGET_P95_MS && latencies.length > 0,
      },
      {
        budget: 'exactly one alert per transition',
        measured: `${lines} alerts / ${UPDATES} transitions`,
        pass: lines === UPDATES && missing === 0 && unmatched.length === 0,
      },
    ];
    await writeResult(NAME, {
      updates: UPDATES,
      pool: POOL,
      spacingMs: SPACING_MS,
      latencyMs: { p50, p95, max, n: latencies.length },
      alerts: { lines, expected: UPDATES, matched: latencies.length, missing, unexpected: unmatched },
      budgets,
    });
    return report(budgets);
  } finally {
    await pipeline.stop();
  }
}

export const run = (): Promise<BenchReport> => inChildProcess(import.meta.url, NAME);

if (isMain(import.meta.url)) await runAsMain(measure);
