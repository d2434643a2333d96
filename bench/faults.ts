// Fault injection (issue 10, part 2): the local pipeline with a fraction of the functions' DynamoDB and
// alert-publishing calls failing (local/faults.ts: throttled, timed out, 500, or lost after taking
// effect), under a load of signed status reports with changing statuses. Per fault rate: applied
// reports lost, implied transitions missing or extra, alerted transitions with no or several alert
// lines, endpoints whose final membership is wrong, and batches parked in the on-failure file; then
// every parked batch is replayed (local/replay.ts), and everything is checked again, then the replay
// is run a second time, which must change nothing.
// FAULTS_SEED=<n> repeats the load and the faults; FAULTS_RATES=0.05,0.2 and FAULTS_REPORTS=<n> pick the runs.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { type Random, seededRandom } from '#test/helpers/random.ts';
import { type Client, createClient } from '../local/client.ts';
import { createFaultInjector, FAULT_KINDS, type FaultInjector } from '../local/faults.ts';
import { type OnFailureMessage, readParked } from '../local/parking.ts';
import { streamConsumers } from '../local/pipeline.ts';
import { replayBatches } from '../local/replay.ts';
import {
  alertLines,
  compareTransitions,
  Fleet,
  membershipOf,
  recordedTransitions,
  WATCHED,
} from './crash-load.ts';
import type { BenchReport } from './run.ts';
import { quietPipeline, RESULTS_DIR, report, writeResult } from './support.ts';

const NAME = 'faults';
const RATES = (process.env.FAULTS_RATES ?? '0.05,0.1,0.2').split(',').map(Number);
const REPORTS = Number(process.env.FAULTS_REPORTS ?? 5_000);
const ENDPOINTS = 100;
const PAUSE_MS = 20;
/** A report answered 5xx is sent again, as the API tells clients to; this many times at most. */
const CLIENT_RETRIES = 30;
const SECRET = 'faults-bench-secret';
/** Replay rounds with the faults still on before the bench gives up (each round shrinks the parked set). */
const MAX_REPLAY_ROUNDS = 40;
/** Before the next round when a round made no progress (notify's timeout is 30 s). */
const NO_PROGRESS_PAUSE_MS = 10_000;

interface Findings {
  lostApplied: number;
  missingTransitions: number;
  extraTransitions: number;
  expectedTransitions: number;
  recorded: number;
  alerted: number;
  alertLines: number;
  missingAlerts: number;
  duplicateAlerts: number;
  strayAlerts: number;
  wrongMembership: number;
  /** Up to five `endpoint|group|event` keys with a transition missing, for a look at the stream. */
  missingKeys: string[];
}

/** An API client that sends a request again on 5xx: the checks read through the same faulty functions. */
function retrying(client: Client): Client {
  return {
    async request(...args: Parameters<Client['request']>) {
      for (let attempt = 0; ; attempt++) {
        const res = await client.request(...args);
        if (res.status < 500 || attempt >= CLIENT_RETRIES) return res;
        await sleep(10 * 2 ** Math.min(attempt, 5));
      }
    },
  };
}

async function check(fleet: Fleet, client: Client, alertsFile: string): Promise<Findings> {
  const expected = fleet.expectedTransitions();
  const recorded = await recordedTransitions(client);
  const {
    missing: missingTransitions,
    extra: extraTransitions,
    missingKeys,
  } = compareTransitions(expected, recorded);
  const alerted = new Set(recorded.filter((t) => t.alert).map((t) => t.transitionId));
  const lines = await alertLines(alertsFile);
  let missingAlerts = 0;
  let duplicateAlerts = 0;
  let strayAlerts = lines.corrupt;
  let alertLineCount = lines.corrupt;
  for (const id of alerted) {
    const n = lines.byTransition.get(id) ?? 0;
    if (n === 0) missingAlerts++;
    else duplicateAlerts += n - 1;
  }
  for (const [id, n] of lines.byTransition) {
    alertLineCount += n;
    if (!alerted.has(id)) strayAlerts += n;
  }
  return {
    lostApplied: (await fleet.lostApplied(client)).length,
    missingTransitions,
    extraTransitions,
    expectedTransitions: [...expected.values()].reduce((a, b) => a + b, 0),
    recorded: recorded.length,
    alerted: alerted.size,
    alertLines: alertLineCount,
    missingAlerts,
    duplicateAlerts,
    strayAlerts,
    wrongMembership: await wrongMembership(fleet, client),
    missingKeys,
  };
}

/** Endpoints whose stored membership of the watched groups is not what their last report implies. */
async function wrongMembership(fleet: Fleet, client: Client): Promise<number> {
  let wrong = 0;
  for (const [id, list] of fleet.reports) {
    const last = list.filter((r) => r.outcome === 'applied').at(-1);
    if (last === undefined) continue;
    const res = await client.request('GET', `/v1/endpoints/${encodeURIComponent(id)}`);
    const groups = new Set((res.body as { groups?: string[] }).groups ?? []);
    const want = membershipOf(last.status);
    if (WATCHED.some((g) => want[g] !== groups.has(g))) wrong++;
  }
  return wrong;
}

/**
 * For the first missing transition: the endpoint's applied reports (whether each puts it in the
 * group) and what is recorded for it, so a gap can be traced to the reports around it.
 */
async function explainMissing(fleet: Fleet, client: Client, f: Findings): Promise<string | undefined> {
  const key = f.missingKeys[0];
  if (key === undefined) return undefined;
  const [endpointId = '', groupId = ''] = key.split('|');
  const reports = (fleet.reports.get(endpointId) ?? []).filter((r) => r.outcome === 'applied');
  const states = reports
    .map((r, i) => `${i + 1}:${membershipOf(r.status)[groupId as (typeof WATCHED)[number]] ? 'in' : '-'}`)
    .join(' ');
  const res = await client.request(
    'GET',
    `/v1/transitions?endpointId=${encodeURIComponent(endpointId)}&groupId=${encodeURIComponent(groupId)}&limit=500`,
  );
  const recorded = ((res.body as { transitions?: Record<string, unknown>[] }).transitions ?? [])
    .reverse()
    .map((t) => `${t.event}@${t.reportRev ?? '?'}${t.recordedLate === true ? ' (late)' : ''}`)
    .join(', ');
  return `${endpointId} in ${groupId}: applied reports ${states}; recorded ${recorded}`;
}

/** The sequence numbers a stream handler's answer reports failed. */
function failedIds(answer: unknown): Set<string> {
  const failures = (answer as { batchItemFailures?: { itemIdentifier?: string }[] } | undefined)
    ?.batchItemFailures;
  return new Set((failures ?? []).map((f) => String(f.itemIdentifier)));
}

/**
 * For a missing transition's endpoint: each of its reports in the stream, as `rev:p/d/f`: how many
 * evaluate messages ever parked (re-parked ones included) cover its record, how many times the live
 * stream delivered it, and how many of those answered it failed. A report the stream passed over
 * without parking it shows as `rev:0/…`.
 */
async function parkedCoverage(
  streams: DynamoDBStreamsClient,
  endpointId: string,
  parkedFile: string,
  live: ReadonlyMap<string, [number, number]>,
): Promise<string> {
  const messages = readParked(parkedFile).filter((m) => m.requestContext.functionArn.includes('evaluate'));
  const streamArn = messages[0]?.DDBStreamBatchInfo.streamArn;
  if (streamArn === undefined) return 'no evaluate batch was parked';
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription
    ?.Shards;
  const out: string[] = [];
  for (const shard of shards ?? []) {
    const shardId = shard.ShardId ?? '';
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator !== undefined) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const r of page.Records ?? []) {
        const image = r.dynamodb?.NewImage;
        if (image?.endpointId?.S !== endpointId || image.writer?.S !== 'ingest') continue;
        const seq = BigInt(r.dynamodb?.SequenceNumber ?? '0');
        const covering = messages.filter(
          (m) =>
            m.DDBStreamBatchInfo.shardId === shardId &&
            BigInt(m.DDBStreamBatchInfo.startSequenceNumber) <= seq &&
            seq <= BigInt(m.DDBStreamBatchInfo.endSequenceNumber),
        ).length;
        const [delivered, failed] = live.get(r.dynamodb?.SequenceNumber ?? '') ?? [0, 0];
        out.push(`${image.rev?.N ?? '?'}:${covering}/${delivered}/${failed}`);
      }
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out.join(' ');
}

const clean = (f: Findings) =>
  f.lostApplied +
    f.missingTransitions +
    f.extraTransitions +
    f.missingAlerts +
    f.duplicateAlerts +
    f.strayAlerts +
    f.wrongMembership ===
  0;

const line = (f: Findings) =>
  `lost updates ${f.lostApplied}; transitions ${f.recorded} recorded / ${f.expectedTransitions} implied ` +
  `(${f.missingTransitions} missing, ${f.extraTransitions} extra); alert lines ${f.alertLines} for ${f.alerted} ` +
  `alerted (${f.missingAlerts} missing, ${f.duplicateAlerts} twice, ${f.strayAlerts} stray); ` +
  `wrong membership ${f.wrongMembership}${f.missingKeys.length > 0 ? `; missing e.g. ${f.missingKeys.join(', ')}` : ''}`;

async function oneRate(rate: number, seed: number, random: Random) {
  const faults: FaultInjector = createFaultInjector({
    rates: Object.fromEntries(FAULT_KINDS.map((k) => [k, rate / FAULT_KINDS.length])) as Record<
      (typeof FAULT_KINDS)[number],
      number
    >,
    seed,
  });
  const label = `${NAME}-${Math.round(rate * 100)}`;
  const parkedFile = join(RESULTS_DIR, `${label}-parked.jsonl`);
  await rm(parkedFile, { force: true });
  // Batches are retried after 20 ms (not 100 ms doubling to 2 s): the same retries and parking, in less time.
  // Every live delivery to evaluate, per sequence number: [delivered, answered failed].
  const live = new Map<string, [number, number]>();
  const { pipeline, alertsFile } = await quietPipeline(label, {
    onDelivery: (consumer, event, answer) => {
      if (consumer !== 'evaluate') return;
      const failed = answer instanceof Error ? undefined : failedIds(answer);
      for (const r of event.Records) {
        const seq = r.dynamodb?.SequenceNumber ?? '';
        const n = live.get(seq) ?? [0, 0];
        live.set(seq, [n[0] + 1, n[1] + (failed === undefined || failed.has(seq) ? 1 : 0)]);
      }
    },
    faults,
    parkedFile,
    secret: SECRET,
    retryBackoffMs: 20,
    // Thousands of injected faults would each log an error line.
    logLevel: 'SILENT',
  });
  try {
    const client = retrying(createClient({ url: pipeline.url, secret: SECRET }));
    const fleet = new Fleet(
      Array.from(
        { length: ENDPOINTS },
        (_, i) => `faults-${Math.round(rate * 100)}-${String(i).padStart(3, '0')}`,
      ),
    );
    const started = performance.now();
    const loadErrors: string[] = [];
    await fleet.load(client, random, {
      count: Math.ceil(REPORTS / ENDPOINTS),
      pauseMs: PAUSE_MS,
      retries: CLIENT_RETRIES,
      onError: (e) => {
        if (loadErrors.length < 5) loadErrors.push(e instanceof Error ? e.message : String(e));
      },
    });
    if (loadErrors.length > 0) console.log(`  reports not answered: ${loadErrors.join(' | ')}`);
    const loadedMs = performance.now() - started;
    await pipeline.drained();
    const drainedMs = performance.now() - started;
    // Taken before the checks, whose reads go through the same (faulty) functions: the calls of the
    // load and the pipeline alone.
    const pipelineCalls = faults.summary();
    const before = await check(fleet, client, alertsFile);
    const parked = pipeline.parking.counts();
    const parkedTotal = Object.values(parked).reduce((a, b) => a + b, 0);
    console.log(
      `rate ${rate * 100} %: ${fleet.count('applied')} reports applied of ${fleet.count('applied') + fleet.count('unanswered') + fleet.count('refused')} sent ` +
        `in ${(loadedMs / 1000).toFixed(1)} s, drained at ${(drainedMs / 1000).toFixed(1)} s`,
    );
    console.log(`  ${pipelineCalls}`);
    console.log(`  parked: ${parkedTotal} batches ${JSON.stringify(parked)}`);
    console.log(`  before replay: ${line(before)}`);

    // The operator's replay: every parked message, through the same handlers, then once more.
    const streams = new DynamoDBStreamsClient({
      endpoint: pipeline.dynamodbEndpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const consumers = streamConsumers(pipeline.functions);
    let replayRounds = 0;
    let messages = readParked(parkedFile);
    const replayedMessages = messages.length;
    let parkedAgain = 0;
    let leftBefore = Number.POSITIVE_INFINITY;
    const replayed = new Set<string>();
    // The faults go on during the replay: what fails again is parked again and replayed next round.
    while (messages.length > 0 && replayRounds < MAX_REPLAY_ROUNDS) {
      replayRounds++;
      const again: OnFailureMessage[] = [];
      const errors: string[] = [];
      const started = performance.now();
      await replayBatches(messages, {
        streams,
        consumers,
        retryBackoffMs: 20,
        onFailedBatch: (failure) => {
          errors.push(failure.error);
          again.push(pipeline.parking.park(failure));
        },
      });
      await pipeline.drained();
      parkedAgain += again.length;
      const left = again.reduce((n, m) => n + m.DDBStreamBatchInfo.batchSize, 0);
      console.log(
        `  replay round ${replayRounds}: ${messages.length} batches, ${again.length} parked again ` +
          `(${left} records left) in ${((performance.now() - started) / 1000).toFixed(1)} s` +
          (again.length > 0 && again.length <= 3 ? `: ${errors.map((e) => e.slice(0, 160)).join('; ')}` : ''),
      );
      // No progress: what holds the batch is time-bound, such as an alert whose idempotency record
      // stayed in progress when its answer was lost, which notify may retry only after its timeout.
      if (again.length > 0 && left >= leftBefore) await sleep(NO_PROGRESS_PAUSE_MS);
      leftBefore = left;
      // Next round: what this one parked again, and what the running pipeline parked meanwhile
      // (a late transition's alert whose publish failed), as `npm run replay` run again would find.
      for (const m of messages) replayed.add(m.requestContext.requestId);
      messages = readParked(parkedFile).filter((m) => !replayed.has(m.requestContext.requestId));
    }
    await pipeline.drained();
    const after = await check(fleet, client, alertsFile);
    const why = await explainMissing(fleet, client, after);
    console.log(
      `  replayed ${replayedMessages} parked batches in ${replayRounds} rounds (${parkedAgain} parked again); after: ${line(after)}`,
    );
    if (why !== undefined) {
      console.log(`  first missing: ${why}`);
      const endpointId = after.missingKeys[0]?.split('|')[0] ?? '';
      console.log(
        `  its reports in the stream (rev:parked in/delivered live/failed live): ${await parkedCoverage(streams, endpointId, parkedFile, live)}`,
      );
    }
    // Replaying everything again must change nothing (checked without faults, which would only
    // make it slower: what it could change is decided by the handlers' idempotency).
    faults.setEnabled(false);
    const all = readParked(parkedFile);
    await replayBatches(all, { streams, consumers });
    await pipeline.drained();
    const twice = await check(fleet, client, alertsFile);
    const unchanged = JSON.stringify(twice) === JSON.stringify(after);
    console.log(
      `  replayed all ${all.length} again: ${unchanged ? 'nothing changed' : `CHANGED: ${line(twice)}`}`,
    );
    streams.destroy();
    return {
      rate,
      reports: fleet.count('applied'),
      faults: faults.counts(),
      parked,
      parkedTotal,
      parkedAgain,
      before,
      after,
      replayTwiceUnchanged: unchanged,
      pass: clean(after) && unchanged,
    };
  } finally {
    await pipeline.stop();
  }
}

export async function run(): Promise<BenchReport> {
  const seed = Number(process.env.FAULTS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(
    `seed ${seed} (FAULTS_SEED=${seed} repeats it): ${REPORTS} reports from ${ENDPOINTS} endpoints per rate, ` +
      `fault rates ${RATES.map((r) => `${r * 100} %`).join(', ')} of the functions' DynamoDB and publish calls`,
  );
  const runs = [];
  for (const rate of RATES) runs.push(await oneRate(rate, seed, seededRandom(seed)));
  const budgets = runs.flatMap((r) => [
    {
      budget: `${r.rate * 100} % faults: nothing lost after replay`,
      measured:
        `${r.after.lostApplied} lost updates, ${r.after.missingTransitions} missing / ${r.after.extraTransitions} extra of ` +
        `${r.after.expectedTransitions} transitions, ${r.after.missingAlerts} missing / ${r.after.duplicateAlerts} duplicate ` +
        `of ${r.after.alerted} alerts, ${r.after.wrongMembership} wrong memberships; ${r.parkedTotal} batches parked ` +
        `(before replay: ${r.before.missingTransitions} missing transitions, ${r.before.missingAlerts} missing alerts)`,
      pass: r.pass,
    },
  ]);
  await writeResult(NAME, { seed, reports: REPORTS, endpoints: ENDPOINTS, runs, budgets });
  return report(budgets);
}
