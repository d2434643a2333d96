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
});
