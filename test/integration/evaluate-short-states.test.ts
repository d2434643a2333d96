// States that last only until the next report: every one of them must record its transitions, however
// the stream delivers the records (one batch, consecutive batches, again after a crash) and whatever a
// fan-out walk does while they wait. Found by `npm run bench -- crash`, which reported implied
// transitions missing under load; each test here failed before the evaluator recorded, on every
// membership it writes, which report revision it was computed from (`mrev`).
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { endpointRecords, evaluatorHarness, transitionEvents } from '#test/helpers/evaluator.ts';

const FAILED = SCRIPT_OUTPUT.failed;
const FAILED_TWO = SCRIPT_OUTPUT.failedTwoVolumes;
const SUCCESS = SCRIPT_OUTPUT.success;
/** A status no shipped group matches. */
const DISABLED = SCRIPT_OUTPUT.disabled;
const FAILED_GROUP = 'bitlocker-key-backup-failed';
const SUCCESS_GROUP = 'bitlocker-key-backup-successful';
const STATUS = 'BitLocker Key Backup Status';
const ENABLE = 'Enable BitLocker Key Backup';

let clock = Date.parse('2026-11-26T10:00:00Z');
const setup = () => evaluatorHarness({ now: () => clock });

const events = transitionEvents;

describe('evaluator: short-lived states', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('records a state whose successor was reported before its own evaluation was written', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 2, { [STATUS]: DISABLED });
    const [failed, disabled] = endpointRecords(await t.stream.next());
    // Lambda may end a batch between the two: the second record's image predates the first's write,
    // and evaluated against that image's membership it changes nothing.
    await t.deliver([failed as DynamoDBRecord]);
    await t.deliver([disabled as DynamoDBRecord]);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
  });

  it('records each state once when the batches are delivered again after a crash', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 2, { [STATUS]: SUCCESS });
    await t.report('LAPTOP-1', 3, { [STATUS]: FAILED });
    const records = endpointRecords(await t.stream.next());
    const [first, second, third] = records as [DynamoDBRecord, DynamoDBRecord, DynamoDBRecord];
    await t.deliver([first]);
    await t.deliver([second, third]);
    // The checkpoint was lost: everything again, in other batch boundaries.
    await t.deliver([first, second]);
    await t.deliver([third]);
    await t.deliver(records);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
    expect(await events(t, FAILED_GROUP)).toEqual([
      'LAPTOP-1 entered',
      'LAPTOP-1 entered',
      'LAPTOP-1 exited',
    ]);
    expect(await events(t, SUCCESS_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
  });

  it('records a change that made no difference to the image but does to the stored membership', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: FAILED_TWO });
    await t.report('LAPTOP-1', 4, { [STATUS]: SUCCESS });
    const [a, b, c] = endpointRecords(await t.stream.next()) as DynamoDBRecord[];
    await t.deliver([a as DynamoDBRecord]);
    // Its image says "successful"; the stored membership says "failed": still failed, no transition.
    await t.deliver([b as DynamoDBRecord]);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);
    await t.deliver([c as DynamoDBRecord]);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([SUCCESS_GROUP]);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
  });

  it('records the states a company walk passed over while their records waited', async () => {
    const t = await setup();
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 0);
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    const waiting = endpointRecords(await t.stream.next());
    // Another shard: a company change walks the fleet and evaluates what is stored (the success).
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation and Server' }, 4);
    await t.settle(t.instance());
    await t.deliver(waiting);
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toContain(SUCCESS_GROUP);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
    expect(await events(t, SUCCESS_GROUP)).toEqual([
      'LAPTOP-1 entered',
      'LAPTOP-1 entered',
      'LAPTOP-1 exited',
    ]);
  });

  it('records that a change was evaluated without reading the endpoint, so a walk finds it settled', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.settle();
    // A relevant change that moves no membership: one guarded write of `mrev`, no read.
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED_TWO });
    t.requests.reset();
    await t.settle();
    expect(t.requests.snapshot()).toMatchObject({ UpdateItem: 1 });
    console.log('SNAP', JSON.stringify(t.requests.snapshot()));
    expect(t.requests.snapshot().GetItem ?? 0).toBe(0);
    let stored = await t.repo.getEndpoint('LAPTOP-1', true);
    expect(stored?.mrev).toBe(stored?.rev);
    // A re-report no group reads is never evaluated (mrev falls behind); the next change cannot tell
    // from its image whether that report was evaluated: its guarded write answers that, still no read.
    await t.report('LAPTOP-1', 3, { [STATUS]: FAILED_TWO });
    await t.report('LAPTOP-1', 4, { [STATUS]: FAILED });
    t.requests.reset();
    await t.settle();
    console.log('SNAP', JSON.stringify(t.requests.snapshot()));
    expect(t.requests.snapshot().GetItem ?? 0).toBe(0);
    stored = await t.repo.getEndpoint('LAPTOP-1', true);
    expect(stored?.mrev).toBe(stored?.rev);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered']);
  });

  it('lets a company walk evaluate endpoints whose only report moved no membership, without hand-over', async () => {
    const t = await setup();
    await t.settle();
    let handedOver = 0;
    const counting = t.instance({
      writer: (w) => ({
        ...w,
        async requestEvaluation(id, lastReportRead) {
          handedOver++;
          return w.requestEvaluation(id, lastReportRead);
        },
      }),
    });
    const ids = ['LAPTOP-1', 'LAPTOP-2', 'LAPTOP-3'];
    // A status no group matches: relevant (a new endpoint), evaluated, no membership.
    for (const id of ids) await t.report(id, 1, { [STATUS]: DISABLED });
    await t.settle(counting);
    await t.setCompany('contoso', { [ENABLE]: 'Windows Workstation' }, 2);
    await t.settle(counting);
    expect(handedOver).toBe(0);
    for (const id of ids) expect(await t.groupsOf(id)).toEqual(['bitlocker-key-backup-enabled']);
    expect((await t.transitions('bitlocker-key-backup-enabled')).map((i) => i.endpointId).sort()).toEqual(
      ids,
    );
  });

  it('goes on from the stored membership when the guarded write finds it moved on', async () => {
    const t = await setup();
    await t.settle();
    await t.report('LAPTOP-1', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 2, { [STATUS]: DISABLED });
    const [failed, disabled] = endpointRecords(await t.stream.next());
    await t.deliver([failed as DynamoDBRecord]);
    // The second record's image predates the first's write: against it, DISABLED changes nothing.
    // Its guarded write of `mrev` fails and answers with the stored membership, against which
    // DISABLED leaves the failed group. The one read is the parked-report check (decisions §25): the
    // image cannot tell whether the FAILED report before it was evaluated or parked; the table can.
    t.requests.reset();
    await t.deliver([disabled as DynamoDBRecord]);
    expect(t.requests.snapshot()).toMatchObject({ GetItem: 1, UpdateItem: 1, TransactWriteItems: 1 });
    await t.settle();
    expect(await t.groupsOf('LAPTOP-1')).toEqual([]);
    const stored = await t.repo.getEndpoint('LAPTOP-1', true);
    expect(stored?.mrev).toBe(stored?.rev);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
  });
});

describe('evaluator: records of one batch', () => {
  it('runs endpoints side by side but holds back the records after one that failed', async () => {
    const t = await setup();
    await t.settle();
    let failing = true;
    const flaky = t.instance({
      writer: (real) => ({
        ...real,
        apply: async (w) => {
          if (failing && w.endpoint.endpointId === 'LAPTOP-A') throw new Error('throttled');
          return real.apply(w);
        },
      }),
    });
    await t.report('LAPTOP-A', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-B', 1, { [STATUS]: FAILED });
    await t.report('LAPTOP-A', 2, { [STATUS]: DISABLED });
    const records = endpointRecords(await t.stream.next());
    const seq = (r: DynamoDBRecord | undefined) => r?.dynamodb?.SequenceNumber;
    const aRecords = records.filter((r) => r.dynamodb?.NewImage?.endpointId?.S === 'LAPTOP-A');
    // Prepare, Act
    const res = await flaky.deliver(records);
    // Assess: both of A's records are reported failed (the second was not run), B's went through.
    expect(res.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(aRecords.map(seq).sort());
    expect(await t.groupsOf('LAPTOP-A')).toEqual([]);
    expect(await t.groupsOf('LAPTOP-B')).toEqual([FAILED_GROUP]);
    // The retry delivers the batch again: B's record is done already, A's run in order.
    failing = false;
    expect((await flaky.deliver(records)).batchItemFailures).toEqual([]);
    expect(await events(t, FAILED_GROUP)).toEqual([
      'LAPTOP-A entered',
      'LAPTOP-A exited',
      'LAPTOP-B entered',
    ]);
  });
});
