// A report whose stream batch was given up (parked in the on-failure queue after its retries) while
// the stream moved on to the endpoint's next report: its state must still be recorded, and replaying
// the parked batch afterwards must record nothing twice. Found by `npm run bench -- faults`, which
// reported implied transitions missing after every parked batch had been replayed: the next report
// was evaluated from the membership before the parked one, and the replay then found its report
// passed. Each test failed before the evaluator caught up a skipped report from the record's old image.
import type { DynamoDBRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { endpointRecords, evaluatorHarness, transitionEvents } from '#test/helpers/evaluator.ts';

const FAILED = SCRIPT_OUTPUT.failed;
const SUCCESS = SCRIPT_OUTPUT.success;
const MISSING = SCRIPT_OUTPUT.keyNotFound;
const FAILED_GROUP = 'bitlocker-key-backup-failed';
const MISSING_GROUP = 'bitlocker-key-missing';
const STATUS = 'BitLocker Key Backup Status';

let clock = Date.parse('2026-11-26T10:00:00Z');
const setup = () => evaluatorHarness({ now: () => clock });

const events = transitionEvents;
const SUCCESSFUL_GROUP = 'bitlocker-key-backup-successful';

/** A group's transitions in report order: `<event>@<report revision>`, late ones marked. */
const history = async (t: Awaited<ReturnType<typeof setup>>, groupId: string) =>
  (await t.transitions(groupId))
    .sort((a, b) => Number(a.reportRev) - Number(b.reportRev))
    .map((i) => `${i.event}@${i.reportRev}${i.recordedLate === true ? ' late' : ''}`);

describe('evaluator: a report whose batch was parked', () => {
  beforeEach(() => {
    clock = Date.parse('2026-11-26T10:00:00Z');
  });

  it('records the parked state when the next report makes no change', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    const [parked, next] = endpointRecords(await t.stream.next()) as [DynamoDBRecord, DynamoDBRecord];

    // The FAILED report's batch is given up; the stream moves on to the success.
    await t.deliver([next]);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
    // The operator replays the parked batch: nothing more, nothing twice.
    await t.deliver([parked]);
    await t.settle();
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual(['bitlocker-key-backup-successful']);
  });

  it('records the parked state when the next report changes membership too', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: MISSING });
    const [parked, next] = endpointRecords(await t.stream.next()) as [DynamoDBRecord, DynamoDBRecord];

    await t.deliver([next]);
    await t.deliver([parked]);
    await t.deliver([parked, next]);
    await t.settle();
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
    expect(await events(t, MISSING_GROUP)).toEqual(['LAPTOP-1 entered']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([MISSING_GROUP]);
  });

  it('costs no request when the report before was evaluated in order', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.settle();
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    const [next] = endpointRecords(await t.stream.next()) as [DynamoDBRecord];
    const main = t.instance();
    await main.deliver([next]);
    expect(main.requests.snapshot().GetItem ?? 0).toBe(0);
    expect(await events(t, FAILED_GROUP)).toEqual(['LAPTOP-1 entered', 'LAPTOP-1 exited']);
  });

  it('records both states when two consecutive reports were parked together', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    await t.report('LAPTOP-1', 4, { [STATUS]: MISSING });
    const [r2, r3, r4] = endpointRecords(await t.stream.next()) as [
      DynamoDBRecord,
      DynamoDBRecord,
      DynamoDBRecord,
    ];

    // Reports 2 and 3 are parked together; the stream moves on to 4, whose old image is report 3:
    // report 2's FAILED is in no image the evaluator sees until the replay. A redelivery by the stream
    // is not a replay: it records nothing late and reads no history.
    await t.deliver([r4]);
    await t.deliver([r2, r3]);
    expect(await history(t, FAILED_GROUP)).toEqual([]);
    // The replay records it, at the reports it belongs to; a second replay records nothing more.
    await t.deliver([r2, r3], { replay: true });
    await t.deliver([r2, r3], { replay: true });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2 late', 'exited@3 late']);
    expect(await history(t, SUCCESSFUL_GROUP)).toEqual([
      'entered@1',
      'exited@2 late',
      'entered@3 late',
      'exited@4',
    ]);
    expect(await history(t, MISSING_GROUP)).toEqual(['entered@4']);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([MISSING_GROUP]);
    const late = (await t.transitions(FAILED_GROUP)).find((i) => i.event === 'entered');
    expect(late?.occurredAt).toBe(new Date(Date.parse(t.at(2))).toISOString());
  });

  it('records them when the parked reports come back in separate batches', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    await t.report('LAPTOP-1', 4, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 5, { [STATUS]: MISSING });
    const [r2, r3, r4, r5] = endpointRecords(await t.stream.next()) as DynamoDBRecord[];

    // 2 and 3 end one parked batch, 4 starts the next; 5 catches up 4 from its old image.
    await t.deliver([r5 as DynamoDBRecord]);
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@4', 'exited@5']);
    await t.deliver([r2 as DynamoDBRecord, r3 as DynamoDBRecord], { replay: true });
    await t.deliver([r4 as DynamoDBRecord], { replay: true });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual([
      'entered@2 late',
      'exited@3 late',
      'entered@4',
      'exited@5',
    ]);
    expect(await history(t, SUCCESSFUL_GROUP)).toEqual([
      'entered@1',
      'exited@2 late',
      'entered@3 late',
      'exited@4',
    ]);
    expect(await t.groupsOf('LAPTOP-1')).toEqual([MISSING_GROUP]);
  });

  it('catches up a skipped report against the stored membership when the stream lagged behind ingest', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    // Four reports written before any is evaluated: their images all hold report 1's membership.
    for (const [i, status] of [FAILED, SCRIPT_OUTPUT.notJoined, SUCCESS, FAILED].entries())
      await t.report('LAPTOP-1', i + 2, { [STATUS]: status });
    const [r2, r3, r4, r5] = endpointRecords(await t.stream.next()) as DynamoDBRecord[];
    await t.deliver([r2 as DynamoDBRecord]);
    // 3 and 4 are parked; 5 catches up 4, whose Successful equals the image's membership (report
    // 1's) but not the stored one (report 2's FAILED).
    await t.deliver([r5 as DynamoDBRecord]);
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2', 'exited@4', 'entered@5']);
    await t.deliver([r3, r4] as DynamoDBRecord[], { replay: true });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2', 'exited@4', 'entered@5']);
    expect(await history(t, SUCCESSFUL_GROUP)).toEqual(['entered@1', 'exited@2', 'entered@4', 'exited@5']);
  });

  it('records a run of passed-over reports that the replay brings back cut in two', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    for (const [i, status] of [FAILED, SUCCESS, FAILED, SUCCESS, SCRIPT_OUTPUT.notJoined].entries())
      await t.report('LAPTOP-1', i + 2, { [STATUS]: status });
    const [r2, r3, r4, r5, r6] = endpointRecords(await t.stream.next()) as DynamoDBRecord[];
    // 2–5 are parked; 6 catches up 5, which changes nothing. The replay's batches are 2–4, then 5.
    await t.deliver([r6 as DynamoDBRecord]);
    await t.deliver([r2, r3, r4] as DynamoDBRecord[], { replay: true });
    // The first window cannot tell yet how report 4's FAILED ended; it records what came before.
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2 late', 'exited@3 late']);
    await t.deliver([r5 as DynamoDBRecord], { replay: true });
    await t.deliver([r2, r3, r4, r5] as DynamoDBRecord[], { replay: true });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual([
      'entered@2 late',
      'exited@3 late',
      'entered@4 late',
      'exited@5 late',
    ]);
    expect(await t.groupsOf('LAPTOP-1')).not.toContain(FAILED_GROUP);
  });

  it('fails a replayed endpoint whole, so its retry still holds the state its first records carried', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.settle();
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    await t.report('LAPTOP-1', 4, { [STATUS]: SCRIPT_OUTPUT.notJoined });
    await t.report('LAPTOP-1', 5, { [STATUS]: MISSING });
    const [r2, r3, r4, r5] = endpointRecords(await t.stream.next()) as DynamoDBRecord[];
    const parked = [r2, r3, r4] as DynamoDBRecord[];
    await t.deliver([r5 as DynamoDBRecord]);

    // The replay evaluates 2–4 (all passed over), then recording their late states fails once.
    let failures = 1;
    const flaky = t.instance({
      writer: (w) => ({
        ...w,
        recordLate: async (...args: Parameters<typeof w.recordLate>) => {
          if (failures-- > 0) throw new Error('the late states could not be written');
          return w.recordLate(...args);
        },
      }),
    });
    const first = await flaky.deliver(parked, { replay: true });
    const seq = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber;
    // Every record of the endpoint fails, not only the one that was running (report 4).
    expect(first?.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(parked.map(seq));
    const retry = parked.filter((r) => first?.batchItemFailures.some((f) => f.itemIdentifier === seq(r)));
    expect(await flaky.deliver(retry, { replay: true })).toEqual({ batchItemFailures: [] });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2 late', 'exited@3 late']);
  });

  it('records nothing late for a batch that was evaluated in order, replayed or redelivered', async () => {
    const t = await setup();
    await t.report('LAPTOP-1', 1, { [STATUS]: SUCCESS });
    await t.report('LAPTOP-1', 2, { [STATUS]: FAILED });
    await t.report('LAPTOP-1', 3, { [STATUS]: SUCCESS });
    const records = endpointRecords(await t.stream.next());
    await t.deliver(records);
    await t.deliver(records);
    await t.deliver(records, { replay: true });
    await t.settle();
    expect(await history(t, FAILED_GROUP)).toEqual(['entered@2', 'exited@3']);
    expect(await history(t, SUCCESSFUL_GROUP)).toEqual(['entered@1', 'exited@2', 'entered@3']);
  });
});
