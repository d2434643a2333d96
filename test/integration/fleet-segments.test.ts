// Fleet walks in parallel segments: a group change's fleet job splits into segment jobs (ranges of the
// GSI4 shards), each its own job item walked through its own stream records. Whatever order the
// segments' records arrive in, on whichever instance, and however often one is delivered again, every
// endpoint is walked exactly once per group change. Small fleets and one page per run keep it quick.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { FLEET_SHARDS, fleetShard } from '#adapters/keys.ts';
import { parseGroupDefinition } from '#core/criteria/index.ts';
import { SHIPPED_CATALOGUE } from '#core/shipped-catalogue.ts';
import { fleetSegments } from '#functions/evaluate/evaluate-job.ts';
import type { JobItem, JobStore } from '#functions/evaluate/ports.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { type EvaluatorHarness, evaluatorHarness } from '#test/helpers/evaluator.ts';
import { seededRandom } from '#test/helpers/random.ts';

const clock = Date.parse('2026-11-26T10:00:00Z');
const STATUS = 'BitLocker Key Backup Status';
const GROUP = 'all-windows';
const SEGMENTS = 4;

const windows = parseGroupDefinition(
  GROUP,
  { name: 'All Windows', blocks: [[{ field: 'OS Type', operator: 'Equal', values: ['Windows'] }]] },
  SHIPPED_CATALOGUE,
);

const isJob = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.type?.S === 'JOB';
const jobIdOf = (r: DynamoDBRecord) => String(r.dynamodb?.Keys?.PK?.S).slice('JOB#'.length);

/** `n` endpoints reported and evaluated; every `unsettledEvery`-th then re-reports what it said. */
async function fleet(t: EvaluatorHarness, n: number, unsettledEvery: number) {
  const ids = Array.from({ length: n }, (_, i) => `EP-${String(i).padStart(4, '0')}`);
  await Promise.all(ids.map((id) => t.report(id, 1, { [STATUS]: SCRIPT_OUTPUT.success })));
  await t.settle();
  // A re-report no group reads is never evaluated: its endpoint is not settled (mrev < rev), and a
  // walk hands it back to the stream.
  const unsettled = ids.filter((_, i) => i % unsettledEvery === 0);
  await Promise.all(unsettled.map((id) => t.report(id, 2, { [STATUS]: SCRIPT_OUTPUT.success })));
  await t.settle();
  return { ids, unsettled: new Set(unsettled) };
}

/** Stream records read until one matches (a loaded machine may show a record a moment late). */
async function recordsUntil(t: EvaluatorHarness, match: (r: DynamoDBRecord) => boolean) {
  const out: DynamoDBRecord[] = [];
  for (let i = 0; i < 50 && !out.some(match); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    out.push(...(await t.stream.next()));
  }
  return out;
}

async function grevs(t: EvaluatorHarness, ids: readonly string[]) {
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, (await t.repo.getEndpoint(id, true))?.grev ?? -1);
  return out;
}

/** The fleet job of the change that saved GROUP and its segments (the shipped groups' have their own). */
async function groupJobs(t: EvaluatorHarness): Promise<{ parent: JobItem[]; segments: JobItem[] }> {
  const out = await t.doc.send(
    new ScanCommand({
      TableName: t.tableName,
      FilterExpression: 'begins_with(PK, :p) AND begins_with(reason, :r)',
      ExpressionAttributeValues: { ':p': 'JOB#fleet-', ':r': `group ${GROUP} saved` },
      ConsistentRead: true,
    }),
  );
  const jobs = (out.Items ?? []) as JobItem[];
  const isSegment = (j: JobItem) => j.scope?.kind === 'fleet' && j.scope.shards !== undefined;
  return { parent: jobs.filter((j) => !isSegment(j)), segments: jobs.filter(isSegment) };
}

describe('fleet segments', () => {
  it('cuts the fleet index into contiguous shard ranges, each shard in exactly one', () => {
    for (const n of [1, 3, 4, 5, 16, 40]) {
      const ranges = fleetSegments(n);
      expect(ranges).toHaveLength(Math.min(n, FLEET_SHARDS));
      expect(ranges[0]?.from).toBe(0);
      expect(ranges.at(-1)?.to).toBe(FLEET_SHARDS);
      for (const [i, r] of ranges.entries()) {
        expect(r.to).toBeGreaterThan(r.from);
        if (i > 0) expect(r.from).toBe(ranges[i - 1]?.to);
      }
    }
  });

  // Generous timeouts: the machine that runs the suite may be shared; nothing here is timed.
  it('walks every endpoint exactly once with segments interleaved across instances and records redelivered', {
    timeout: 120_000,
  }, async () => {
    // One page per run: every segment checkpoints after each page, so its walk is several records.
    const t = await evaluatorHarness({
      now: () => clock,
      config: { fleetSegments: SEGMENTS, jobBudgetMs: 0, pageSize: 5 },
    });
    await t.settle();
    const { ids, unsettled } = await fleet(t, 120, 8);
    const before = await grevs(t, ids);

    await t.groups.put(windows, t.at(5));
    const instances = [t.main, t.instance(), t.instance()];
    const random = seededRandom(20261126);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
    const seen: DynamoDBRecord[] = [];
    let redelivered = 0;
    for (let round = 0; round < 500; round++) {
      const records = await t.stream.next();
      if (records.length === 0) break;
      // Everything but job records in stream order (reports, walk requests, the group record).
      const others = records.filter((r) => !isJob(r));
      if (others.length > 0) expect((await t.deliver(others)).batchItemFailures).toEqual([]);
      // Job records one by one, in random order, each on a random instance; each round one record
      // already handled is delivered again (a stale or redelivered segment record).
      const jobs = records.filter(isJob);
      for (let i = jobs.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [jobs[i], jobs[j]] = [jobs[j] as DynamoDBRecord, jobs[i] as DynamoDBRecord];
      }
      for (const r of jobs) {
        expect((await pick(instances).deliver([r])).batchItemFailures).toEqual([]);
        seen.push(r);
      }
      if (seen.length > 0) {
        expect((await pick(instances).deliver([pick(seen)])).batchItemFailures).toEqual([]);
        redelivered++;
      }
    }
    await t.settle();
    expect(redelivered).toBeGreaterThan(5);

    // The group's fleet job split into SEGMENTS segments, each done, which between them walked the
    // fleet once.
    const { parent, segments } = await groupJobs(t);
    expect(parent).toHaveLength(1);
    expect(segments).toHaveLength(SEGMENTS);
    expect([...parent, ...segments].every((j) => j.status === 'done')).toBe(true);
    expect(segments.reduce((sum, j) => sum + j.processed, 0)).toBe(ids.length);
    // Segments ran several pages each, and their records were delivered in interleaved order.
    const order = seen.map(jobIdOf).filter((id) => segments.some((s) => s.jobId === id));
    const switches = order.filter((id, i) => i > 0 && id !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(SEGMENTS);

    // Exactly once: each settled endpoint got one membership write (entering the group); each
    // unsettled one a hand-over and then the write its walk record made; one transition each.
    const after = await grevs(t, ids);
    for (const id of ids) {
      expect(`${id} +${(after.get(id) ?? 0) - (before.get(id) ?? 0)}`).toBe(
        `${id} +${unsettled.has(id) ? 2 : 1}`,
      );
    }
    const entered = (await t.transitions(GROUP)).map((i) => String(i.endpointId));
    expect(entered).toHaveLength(ids.length);
    expect(new Set(entered).size).toBe(ids.length);
    expect(await t.memberItems(GROUP)).toHaveLength(ids.length);
    // Shards really were spread: more than one segment walked endpoints.
    expect(new Set(ids.map(fleetShard)).size).toBe(FLEET_SHARDS);
    expect(segments.filter((s) => s.processed > 0).length).toBe(SEGMENTS);
  });

  it('creates only the missing segments when the split is retried after a crash part-way', {
    timeout: 120_000,
  }, async () => {
    const t = await evaluatorHarness({ now: () => clock, config: { fleetSegments: SEGMENTS } });
    await t.settle();
    const { ids } = await fleet(t, 40, 1000);
    // The split dies after two segments were created: the third and later creations fail.
    let calls = 0;
    let created = 0;
    let twoCreated: () => void = () => undefined;
    const firstTwo = new Promise<void>((resolve) => {
      twoCreated = resolve;
    });
    const crashing = t.instance({
      jobs: (store: JobStore): JobStore => ({
        ...store,
        async createJob(job, nowIso, expiresAt) {
          if (job.scope?.kind !== 'fleet' || job.scope.shards === undefined) {
            return store.createJob(job, nowIso, expiresAt);
          }
          if (++calls > 2) {
            await firstTwo;
            throw new Error('crash while splitting');
          }
          await store.createJob(job, nowIso, expiresAt);
          if (++created === 2) twoCreated();
        },
      }),
    });
    await t.groups.put(windows, t.at(5));
    // The group's record, then the fleet job its evaluation starts (read until each has arrived).
    const group = await recordsUntil(t, (r) => r.dynamodb?.NewImage?.type?.S === 'GROUP');
    await t.deliver(group);
    const [parentRecord] = (await recordsUntil(t, isJob)).filter(isJob);
    expect(parentRecord).toBeDefined();
    const failed = await crashing.deliver([parentRecord as DynamoDBRecord]);
    expect(failed.batchItemFailures).toHaveLength(1);
    const partial = await groupJobs(t);
    expect(partial.segments).toHaveLength(2);
    expect(partial.parent.map((j) => j.status)).toEqual(['running']);

    // The retry (the same record again) creates the rest; a later redelivery changes nothing.
    expect((await t.deliver([parentRecord as DynamoDBRecord])).batchItemFailures).toEqual([]);
    expect((await t.deliver([parentRecord as DynamoDBRecord])).batchItemFailures).toEqual([]);
    await t.settle();
    const { parent, segments } = await groupJobs(t);
    expect(segments).toHaveLength(SEGMENTS);
    expect([...parent, ...segments].every((j) => j.status === 'done')).toBe(true);
    const entered = (await t.transitions(GROUP)).map((i) => String(i.endpointId));
    expect(entered.sort()).toEqual([...ids].sort());
  });
});
