// `npm run bench -- tick`: read units per minute tick at 10,000 endpoints with a `Not reporting` group
// (Last Report Older than 7 days), before (the tick walked the whole fleet) and after (it reads the
// due index, GSI5, and only the endpoints due), with 1 % of the endpoints crossing the boundary.
//
// Both run here on one table with the same evaluator code: "before" is the old tick's job exactly (a
// fleet-scope evaluate job without touch, eventually consistent reads), "after" is `tick()`. The
// after-tick runs first, so the crossing endpoints are evaluated and written by it; the before-walk
// then reads the same 10,000 endpoints (its reads do not depend on what it finds, but for one group
// check per page with an entry). Every request is counted at the SDK boundary; read units are
// DynamoDB's ConsumedCapacity where DynamoDB Local returns it, and computed from the returned items'
// sizes by DynamoDB's rules (4 KB units, half for eventually consistent reads) as a check.
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { createJobStore } from '#adapters/job-store.ts';
import { ITEM, keys, WRITER } from '#adapters/keys.ts';
import { createMembershipWriter } from '#adapters/membership-writer.ts';
import { createRepository } from '#adapters/repository.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { instantKey } from '#core/instant.ts';
import { FIELD, SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { createEvaluator } from '#functions/evaluate/evaluate.ts';
import type { NewJob } from '#functions/evaluate/ports.ts';
import { seededRandom } from '#test/helpers/random.ts';
import { createTable } from '../local/create-table.ts';
import { startDynamoDbLocal } from '../local/dynamodb-local.ts';
import type { BenchReport } from './run.ts';
import { report, writeResult } from './support.ts';

const NAME = 'tick';
const ENDPOINTS = Number(process.env.TICK_ENDPOINTS ?? 10_000);
const CROSSING = 0.01;
const DAY = 86_400_000;
const RRU_PRICE = 0.125 / 1e6;
const WRU_PRICE = 0.625 / 1e6;
const TABLE = 'keywatch-bench-tick';

interface Tally {
  requests: Map<string, number>;
  /** Read units DynamoDB (Local) reported. */
  consumed: number;
  /** Read units computed from the items returned. */
  computed: number;
  itemsRead: number;
  writes: number;
}
const fresh = (): Tally => ({ requests: new Map(), consumed: 0, computed: 0, itemsRead: 0, writes: 0 });
let tally = fresh();

/** DynamoDB's item size: attribute names plus values (strings in UTF-8, numbers about 1 byte per 2 digits). */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + sizeOf(v), 0);
  if (typeof value === 'object')
    return (
      3 +
      Object.entries(value as Record<string, unknown>).reduce(
        (n, [k, v]) => n + Buffer.byteLength(k) + 1 + sizeOf(v),
        0,
      )
    );
  return 0;
}
const itemSize = (item: Record<string, unknown>) =>
  Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + sizeOf(v), 0);

const READS = new Set(['Query', 'GetItem', 'BatchGetItem']);

/** Counts requests and read units of one client, at the SDK boundary (document client output). */
function countReads(client: DynamoDBClient) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? '').replace(/Command$/, '');
      tally.requests.set(op, (tally.requests.get(op) ?? 0) + 1);
      const input = args.input as Record<string, unknown>;
      if (READS.has(op)) input.ReturnConsumedCapacity = 'TOTAL';
      else tally.writes++;
      const out = await next(args);
      if (!READS.has(op)) return out;
      const o = out.output as {
        ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[];
        Items?: Record<string, unknown>[];
        Item?: Record<string, unknown>;
        Responses?: Record<string, Record<string, unknown>[]>;
      };
      const cc = o.ConsumedCapacity;
      tally.consumed += (Array.isArray(cc) ? cc : cc === undefined ? [] : [cc]).reduce(
        (n, c) => n + (c.CapacityUnits ?? 0),
        0,
      );
      if (op === 'Query') {
        // A Query is charged on the total size of what it returned, in 4 KB units; index queries are
        // eventually consistent (half a unit).
        const items = o.Items ?? [];
        const consistent = input.ConsistentRead === true;
        const bytes = items.reduce((n, i) => n + itemSize(i), 0);
        tally.computed += Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
        tally.itemsRead += items.length;
      } else {
        const items = op === 'GetItem' ? (o.Item ? [o.Item] : []) : Object.values(o.Responses ?? {}).flat();
        const requested = Object.values(
          (input.RequestItems ?? {}) as Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }>,
        );
        const consistent =
          op === 'GetItem' ? input.ConsistentRead === true : requested.some((r) => r.ConsistentRead === true);
        const keysAsked = op === 'GetItem' ? 1 : requested.reduce((n, r) => n + (r.Keys?.length ?? 0), 0);
        // Each key read is charged in 4 KB units of its item, a missing item as one unit.
        const found = items.reduce((n: number, i) => n + Math.max(1, Math.ceil(itemSize(i) / 4096)), 0);
        tally.computed += (found + Math.max(0, keysAsked - items.length)) * (consistent ? 1 : 0.5);
        tally.itemsRead += items.length;
      }
      return out;
    },
    { step: 'initialize', name: 'benchReadCounter' },
  );
}

async function measure(): Promise<BenchReport> {
  const local = await startDynamoDbLocal();
  try {
    const client = createDynamoClient(local.endpoint);
    await createTable(client, TABLE);
    const doc = documentClient(client);
    let clock = Date.parse('2026-12-07T00:00:00Z');
    const random = seededRandom(1207);

    // 10,000 endpoints as a report that was evaluated leaves them (mrev = rev): 1 % last reported
    // just under 7 days before the tick (they cross during the coming minute), the rest spread over
    // the last 6.9 days, and 5 % already silent for longer (members, no due instant).
    const tickAt = clock + 30 * 60_000;
    const started = performance.now();
    const items: Record<string, unknown>[] = Array.from({ length: ENDPOINTS }, (_, i) => {
      const id = `EP-${String(i).padStart(6, '0')}`;
      const r = random();
      const observedMs =
        i % 100 === 0
          ? tickAt - 7 * DAY - Math.floor(random() * 60_000)
          : r < 0.05
            ? tickAt - 8 * DAY - Math.floor(random() * DAY)
            : tickAt - Math.floor(random() * 6.9 * DAY);
      const observedAt = new Date(observedMs).toISOString();
      return {
        ...keys.endpoint(id),
        ...keys.endpointByParent(`company-${i % 50}`, 'hq', id),
        ...keys.endpointInFleet(id),
        type: ITEM.endpoint,
        endpointId: id,
        companyId: `company-${i % 50}`,
        siteId: 'hq',
        hostname: id,
        osType: 'Windows',
        endpointType: 'Laptop',
        observedAt,
        observedAtMs: observedMs,
        observedKey: instantKey(observedAt),
        [`F#${FIELD.backupStatus}`]: '| All BitLocker keys are backed up successfully. |',
        rev: 1,
        mrev: 1,
        grev: 0,
        groups: {},
        writer: WRITER.evaluate,
      };
    });
    // Their 50 companies and sites, named, as the evaluator reads them with each page.
    for (let c = 0; c < 50; c++) {
      items.push(
        {
          ...keys.company(`company-${c}`),
          type: ITEM.company,
          companyId: `company-${c}`,
          name: `Company ${c}`,
          rev: 1,
        },
        {
          ...keys.site(`company-${c}`, 'hq'),
          type: ITEM.site,
          companyId: `company-${c}`,
          siteId: 'hq',
          name: 'HQ',
          rev: 1,
        },
      );
    }
    for (let i = 0; i < items.length; i += 25 * 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, k) => items.slice(i + k * 25, i + (k + 1) * 25))
          .filter((chunk) => chunk.length > 0)
          .map((chunk) =>
            doc.send(
              new BatchWriteCommand({
                RequestItems: { [TABLE]: chunk.map((Item) => ({ PutRequest: { Item } })) },
              }),
            ),
          ),
      );
    }
    const groups = createGroupStore(doc, TABLE);
    const notReporting = parseGroupDefinition(
      'not-reporting',
      {
        name: 'Not reporting',
        criteria: { field: FIELD.lastReport, operator: 'Older than days', values: ['7'] },
        alert: { on: ['enter'], severity: 'medium' },
      },
      SHIPPED_CATALOGUE,
    );
    await groups.put(notReporting, new Date(clock).toISOString());

    // The evaluator under measurement: its own client, counted.
    const evalClient = createDynamoClient(local.endpoint);
    countReads(evalClient);
    const evalDoc = documentClient(evalClient);
    const jobs = createJobStore(evalDoc, TABLE);
    const evaluator = createEvaluator({
      groups: createGroupStore(evalDoc, TABLE),
      endpoints: createRepository(evalDoc, TABLE),
      fleet: createFleetPager(evalDoc, TABLE),
      writer: createMembershipWriter(evalDoc, TABLE),
      jobs,
      nowMs: () => clock,
      logger: new Logger({ serviceName: 'keywatch-bench', logLevel: 'SILENT' }),
      sleep: async () => undefined,
      config: { fleetDelayMs: 0, jobBudgetMs: 3_600_000 },
    });
    const batch = await evaluator.prepare([]);
    /** Runs a job to the end the way its stream records would: one run per checkpoint. */
    const drive = async (jobId: string) => {
      for (;;) {
        const job = await jobs.getJob(jobId);
        if (job === undefined || job.status !== 'running') return;
        await evaluator.handle({ id: `${jobId}-${job.page}`, change: { kind: 'job', job } }, batch);
      }
    };
    const startJob = async (job: NewJob) => {
      await jobs.createJob(job, new Date(clock).toISOString(), 0);
      await drive(job.jobId);
    };

    // The group's fleet walk sets every endpoint's due instant (and enters the silent ones).
    await evaluator.handle(
      {
        id: 'group-saved',
        change: { kind: 'group', groupId: 'not-reporting', removed: false, changed: true },
      },
      batch,
    );
    await drive('fleet-group-saved');
    const setupSeconds = (performance.now() - started) / 1000;
    const walkWrites = tally.writes;

    const phase = async (run: () => Promise<unknown>) => {
      tally = fresh();
      const t0 = performance.now();
      await run();
      const ms = performance.now() - t0;
      return { ...tally, requests: Object.fromEntries(tally.requests), ms };
    };

    // Each phase starts as a tick does on Lambda: the group list cached by the instance has expired
    // (ticks are a minute apart, the cache lives 5 s), so each reads it once.
    // After: the tick at tickAt, when the 1 % crossed during the minute before it are due.
    clock = tickAt;
    const due = await phase(async () => {
      await evaluator.tick();
      await drive(`tick-${Math.floor(clock / 60_000)}`);
    });
    // After: the next minute's tick, nothing due.
    clock = tickAt + 60_000;
    const idle = await phase(() => evaluator.tick());
    // Before: what the tick did until now, a fleet walk over every endpoint.
    clock = tickAt + 120_000;
    const before = await phase(() =>
      startJob({
        jobId: 'old-fleet-tick',
        kind: 'evaluate',
        scope: { kind: 'fleet' },
        reason: 'time-based groups (the fleet walk the tick made before the due index)',
      }),
    );

    const perDay = (units: number) => units * 1440;
    const line = (label: string, p: typeof before) =>
      console.log(
        `  ${label.padEnd(34)} ${p.consumed.toFixed(1).padStart(8)} RRU reported, ${p.computed.toFixed(1).padStart(8)} computed; ${p.itemsRead} items read; ${p.writes} writes; requests ${JSON.stringify(p.requests)}; ${(p.ms / 1000).toFixed(1)} s`,
      );
    console.log(
      `\n${ENDPOINTS} endpoints, Not reporting (Last Report Older than 7 days); setup ${setupSeconds.toFixed(0)} s (group walk: ${walkWrites} writes)`,
    );
    line('before: fleet walk per tick', before);
    line('after: tick, 1 % due', due);
    line('after: tick, nothing due', idle);
    const units = (p: typeof before) => Math.max(p.consumed, p.computed);
    const result = {
      endpoints: ENDPOINTS,
      crossingPerMinute: CROSSING,
      before,
      afterDue: due,
      afterIdle: idle,
      perDayUsd: {
        before: perDay(units(before)) * RRU_PRICE,
        afterIdle: perDay(units(idle)) * RRU_PRICE,
      },
    };
    console.log(
      `  per day at list price ($0.125/M RRU, $0.625/M WRU): before $${result.perDayUsd.before.toFixed(3)} in reads; after, nothing due, $${result.perDayUsd.afterIdle.toFixed(4)}; a due endpoint costs its read and one write ($${((0.5 * RRU_PRICE + 3 * WRU_PRICE) * 1e6).toFixed(2)} per million)`,
    );
    const budgets = [
      {
        budget:
          'tick reads only what is due (read units ≤ 1/10 of the fleet walk; nothing due: index queries only)',
        measured: `before ${units(before).toFixed(1)} RRU, after ${units(due).toFixed(1)} RRU with ${due.itemsRead} items read, ${units(idle).toFixed(1)} RRU with nothing due (${idle.requests.Query ?? 0} queries)`,
        // 16 due-index queries and the group list, nothing else.
        pass:
          units(due) <= units(before) / 10 &&
          (idle.requests.Query ?? 0) <= 17 &&
          Object.keys(idle.requests).length === 1,
      },
    ];
    await writeResult(NAME, { ...result, budgets });
    return report(budgets);
  } finally {
    await local.stop();
  }
}

export const run = measure;
