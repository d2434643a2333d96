// `npm run replay -- --aws`: the whole command (argument parsing to exit code) against the AWS SDK
// clients mocked at their boundary (aws-sdk-client-mock): CloudFormation for the stack's resources,
// SQS for the on-failure queue, DynamoDB Streams for the parked records, Lambda for the re-drive.
// Nothing reaches the network. That replaying twice records and alerts nothing twice is the
// functions' idempotency, tested against the real handlers in test/integration/replay.test.ts.
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  type _Record,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { replayQueue } from '#local/aws-replay.ts';
import { main } from '#local/aws-replay-cli.ts';
import { type OnFailureMessage, parseOnFailureMessage } from '#local/parking.ts';

const cloudFormation = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const streams = mockClient(DynamoDBStreamsClient);
// The mocks replace the classes' send for every instance; test files share a process (vitest.config.ts).
afterAll(() => {
  for (const m of [cloudFormation, sqs, lambda, streams]) m.restore();
});

const STACK = 'Keywatch-prod';
const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/keywatch/stream/2026-12-01T00:00:00.000';
const SHARD = 'shardId-00000001764547200000-abcdef12';
const EVALUATE_FN = 'Keywatch-prod-ProcessingEvaluateFunction79090F-AbCdEf123456';
const NOTIFY_FN = 'Keywatch-prod-ProcessingNotifyFunction3B168F-GhIjKl789012';
const EVALUATE_Q =
  'https://sqs.eu-west-1.amazonaws.com/123456789012/Keywatch-prod-ProcessingEvaluateFailures9D1D723D-x';
const NOTIFY_Q =
  'https://sqs.eu-west-1.amazonaws.com/123456789012/Keywatch-prod-ProcessingNotifyFailures5C876CDB-y';

/** The stack's resources as CloudFormation lists them (only the ones that matter, plus look-alikes). */
const RESOURCES = [
  {
    LogicalResourceId: 'ProcessingEvaluateFunction79090F21',
    PhysicalResourceId: EVALUATE_FN,
    ResourceType: 'AWS::Lambda::Function',
  },
  {
    LogicalResourceId: 'ProcessingEvaluateFunctionServiceRole',
    PhysicalResourceId: 'role',
    ResourceType: 'AWS::IAM::Role',
  },
  {
    LogicalResourceId: 'ProcessingNotifyFunction3B168F96',
    PhysicalResourceId: NOTIFY_FN,
    ResourceType: 'AWS::Lambda::Function',
  },
  {
    LogicalResourceId: 'ProcessingEvaluateFailures9D1D723D',
    PhysicalResourceId: EVALUATE_Q,
    ResourceType: 'AWS::SQS::Queue',
  },
  {
    LogicalResourceId: 'ProcessingEvaluateFailuresPolicy1',
    PhysicalResourceId: 'policy',
    ResourceType: 'AWS::SQS::QueuePolicy',
  },
  {
    LogicalResourceId: 'ProcessingNotifyFailures5C876CDB',
    PhysicalResourceId: NOTIFY_Q,
    ResourceType: 'AWS::SQS::Queue',
  },
  {
    LogicalResourceId: 'ApiIngestFunction1F68061A',
    PhysicalResourceId: 'ingest',
    ResourceType: 'AWS::Lambda::Function',
  },
].map((r) => ({ ...r, ResourceStatus: 'CREATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() }));

/** Lambda's on-failure record for an evaluate batch from sequence number `start` to `end`. */
function parked(
  start: number,
  end: number,
  fn = EVALUATE_FN,
  where: { shardId?: string; streamArn?: string } = {},
): OnFailureMessage {
  return {
    requestContext: {
      requestId: `req-${start}`,
      functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${fn}`,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 6,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2026-12-07T09:00:00.000Z',
    DDBStreamBatchInfo: {
      shardId: where.shardId ?? SHARD,
      startSequenceNumber: String(start),
      endSequenceNumber: String(end),
      approximateArrivalOfFirstRecord: '2026-12-07T08:59:00Z',
      approximateArrivalOfLastRecord: '2026-12-07T08:59:01Z',
      batchSize: end - start + 1,
      streamArn: where.streamArn ?? STREAM_ARN,
    },
  };
}

const sqsMessage = (id: string, body: unknown) => ({
  MessageId: id,
  ReceiptHandle: `receipt-${id}`,
  Body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** An endpoint report written by ingest: a record evaluate's filters pass. */
function report(seq: number): _Record {
  const endpoint = `E${seq}`;
  return {
    eventID: `event-${seq}`,
    eventName: 'MODIFY',
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: new Date('2026-12-07T08:59:00Z'),
      Keys: { PK: { S: `ENDPOINT#${endpoint}` }, SK: { S: 'ENDPOINT' } },
      NewImage: {
        PK: { S: `ENDPOINT#${endpoint}` },
        SK: { S: 'ENDPOINT' },
        type: { S: 'ENDPOINT' },
        writer: { S: 'ingest' },
      },
      SequenceNumber: String(seq),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** A membership write of evaluate's own: in the stream, but the mapping's filters drop it. */
function membership(seq: number): _Record {
  return {
    ...report(seq),
    dynamodb: {
      ...report(seq).dynamodb,
      NewImage: { PK: { S: 'GROUP#g' }, SK: { S: `MEMBER#${seq}` }, type: { S: 'MEMBER' } },
    },
  };
}

/** The shard as GetRecords pages it from `start`: two pages, the second ending past the batch. */
function streamPages(pages: _Record[][]) {
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-0' });
  pages.forEach((records, i) => {
    streams
      .on(GetRecordsCommand, { ShardIterator: `it-${i}` })
      .resolves({ Records: records, NextShardIterator: `it-${i + 1}` });
  });
}

function queue(url: string, messages: ReturnType<typeof sqsMessage>[]) {
  sqs
    .on(GetQueueAttributesCommand, { QueueUrl: url })
    .resolves({ Attributes: { ApproximateNumberOfMessages: String(messages.length) } });
  let receive = sqs.on(ReceiveMessageCommand, { QueueUrl: url });
  for (const m of messages) receive = receive.resolvesOnce({ Messages: [m] });
  receive.resolves({});
}

const answer = (payload: unknown, functionError?: string): Partial<InvokeCommandOutput> => ({
  StatusCode: 200,
  Payload: new TextEncoder().encode(JSON.stringify(payload)) as InvokeCommandOutput['Payload'],
  ...(functionError === undefined ? {} : { FunctionError: functionError }),
});

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--aws', '--stack', STACK, '--region', 'eu-west-1', ...args], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const invokedEvents = () =>
  lambda.commandCalls(InvokeCommand).map((c) => ({
    functionName: c.args[0].input.FunctionName,
    type: c.args[0].input.InvocationType,
    event: JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)) as {
      keywatchReplay?: boolean;
      Records: DynamoDBRecord[];
    },
  }));
const deleted = () => sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle);
const madeVisible = () =>
  sqs
    .commandCalls(ChangeMessageVisibilityCommand)
    .map((c) => [c.args[0].input.ReceiptHandle, c.args[0].input.VisibilityTimeout]);

beforeEach(() => {
  for (const m of [cloudFormation, sqs, lambda, streams]) m.reset();
  cloudFormation
    .on(ListStackResourcesCommand, { StackName: STACK })
    .resolves({ StackResourceSummaries: RESOURCES });
  queue(NOTIFY_Q, []);
});

describe('replay --aws', () => {
  it('reads the batch between its sequence numbers across pages, invokes the function once with the flag, deletes the message', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 103))]);
    streamPages([
      [report(100), membership(101)],
      [report(102), report(103), report(104)],
    ]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    const { code, out, err } = await run();

    expect(code).toBe(0);
    const iterator = streams.commandCalls(GetShardIteratorCommand)[0]?.args[0].input;
    expect(iterator).toEqual({
      StreamArn: STREAM_ARN,
      ShardId: SHARD,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: '100',
    });
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(2);
    const invoked = invokedEvents();
    expect(invoked).toHaveLength(1);
    expect(invoked[0]?.functionName).toBe(EVALUATE_FN);
    expect(invoked[0]?.type).toBe('RequestResponse');
    expect(invoked[0]?.event.keywatchReplay).toBe(true);
    // 104 is past the batch; 101 is evaluate's own membership write, which the mapping never delivers.
    expect(invoked[0]?.event.Records.map((r) => r.dynamodb?.SequenceNumber)).toEqual(['100', '102', '103']);
    for (const r of invoked[0]?.event.Records ?? []) {
      expect(r.eventSourceARN).toBe(STREAM_ARN);
      expect(r.dynamodb?.ApproximateCreationDateTime).toBe(Date.parse('2026-12-07T08:59:00Z') / 1000);
    }
    expect(deleted()).toEqual(['receipt-m1']);
    expect(madeVisible()).toEqual([]);
    expect(err).toMatch(
      /evaluate \[1\/1\] message m1: batch 100…103 .*: 4 records read, 1 invocations, replayed; message deleted/,
    );
    expect(out).toMatch(/evaluate: 1 parked batches, 1 replayed, 0 failed again.*1 deleted, 0 left/);
    expect(out).toMatch(/^notify: nothing parked$/m);
  });

  it('resolves the queue and function of each consumer by logical id, not by look-alikes', async () => {
    queue(EVALUATE_Q, []);
    const { code, out } = await run();
    expect(code).toBe(0);
    const urls = sqs.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.QueueUrl);
    expect(urls).toEqual([EVALUATE_Q, NOTIFY_Q]);
    expect(out).toBe('evaluate: nothing parked\nnotify: nothing parked');
  });

  it('with --function notify, touches the notify queue only and invokes the notify function', async () => {
    const transition = report(7);
    transition.eventName = 'INSERT';
    transition.dynamodb = {
      ...transition.dynamodb,
      NewImage: {
        PK: { S: 'TRANSITION#1' },
        SK: { S: 'T' },
        type: { S: 'TRANSITION' },
        alert: { BOOL: true },
      },
    };
    queue(NOTIFY_Q, [sqsMessage('n1', parked(7, 7, NOTIFY_FN))]);
    streamPages([[transition]]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    const { code } = await run('--function', 'notify');

    expect(code).toBe(0);
    const urls = new Set(sqs.commandCalls(ReceiveMessageCommand).map((c) => c.args[0].input.QueueUrl));
    expect([...urls]).toEqual([NOTIFY_Q]);
    expect(invokedEvents().map((i) => i.functionName)).toEqual([NOTIFY_FN]);
    expect(deleted()).toEqual(['receipt-n1']);
  });

  it('leaves a batch that fails again (batchItemFailures) in the queue, visible again, and exits 1', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 102))]);
    streamPages([[report(100), report(101), report(102)]]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [{ itemIdentifier: '101' }] }));

    const { code, out, err } = await run();

    expect(code).toBe(1);
    expect(invokedEvents()).toHaveLength(1);
    expect(deleted()).toEqual([]);
    expect(madeVisible()).toEqual([['receipt-m1', 0]]);
    expect(err).toMatch(/failed again: batchItemFailures: \["101"\]; message left in the queue/);
    expect(out).toMatch(/0 replayed, 1 failed again.*0 deleted, 1 left in the queue/);
  });

  it('leaves a batch whose invocation ends in a FunctionError, with the error, and exits 1', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 100))]);
    streamPages([[report(100)]]);
    lambda
      .on(InvokeCommand)
      .resolves(answer({ errorType: 'Error', errorMessage: 'table is throttled', trace: [] }, 'Unhandled'));

    const { code, err } = await run();

    expect(code).toBe(1);
    expect(deleted()).toEqual([]);
    expect(err).toMatch(/failed again: FunctionError: Unhandled Error: table is throttled/);
  });

  it('leaves a batch whose invocation is refused (after the SDK retries), and goes on with the next one', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 100)), sqsMessage('m2', parked(101, 101))]);
    streamPages([[report(100), report(101)]]);
    streams.on(GetShardIteratorCommand, { SequenceNumber: '101' }).resolves({ ShardIterator: 'it-b' });
    streams.on(GetRecordsCommand, { ShardIterator: 'it-b' }).resolves({ Records: [report(101)] });
    lambda
      .on(InvokeCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves(answer(null));

    const { code, err } = await run();

    expect(code).toBe(1);
    expect(invokedEvents()).toHaveLength(2);
    expect(deleted()).toEqual(['receipt-m2']);
    expect(err).toMatch(/m1: .*failed again: TooManyRequestsException: Rate exceeded/);
  });

  it('reports a batch past the stream’s 24 h with what to do instead, and leaves it unless --delete-expired', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 103))]);
    streams
      .on(GetShardIteratorCommand)
      .rejects(new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }));

    const left = await run();

    expect(left.code).toBe(1);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(deleted()).toEqual([]);
    expect(madeVisible()).toEqual([['receipt-m1', 0]]);
    expect(left.err).toMatch(/no longer in the stream .*PUT the body back.*--delete-expired/);
    expect(left.out).toMatch(/1 past the stream's 24 h/);

    sqs.resetHistory();
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 103))]);
    const removed = await run('--delete-expired');
    expect(removed.code).toBe(0);
    expect(deleted()).toEqual(['receipt-m1']);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it('--dry-run reads and counts the records, invokes and deletes nothing, and puts the messages back', async () => {
    queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 103))]);
    streamPages([
      [report(100), membership(101)],
      [report(102), report(103), report(104)],
    ]);

    const { code, out, err } = await run('--dry-run');

    expect(code).toBe(0);
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(2);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(deleted()).toEqual([]);
    expect(madeVisible()).toEqual([['receipt-m1', 0]]);
    expect(err).toMatch(/4 records read, would invoke .* 1 times \(dry run\)/);
    expect(out).toMatch(/1 readable \(dry run/);
  });

  it('reports a malformed message body and leaves it alone, then replays the next message', async () => {
    const noCoordinates = { ...parked(100, 100), DDBStreamBatchInfo: { shardId: SHARD } };
    queue(EVALUATE_Q, [
      sqsMessage('bad1', 'not json'),
      sqsMessage('bad2', noCoordinates),
      sqsMessage('m1', parked(100, 100)),
    ]);
    streamPages([[report(100)]]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    const { code, out, err } = await run();

    expect(code).toBe(1);
    expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
    expect(invokedEvents()).toHaveLength(1);
    expect(deleted()).toEqual(['receipt-m1']);
    expect(madeVisible().map(([h]) => h)).toEqual(['receipt-bad1', 'receipt-bad2']);
    expect(err).toMatch(/bad1: not JSON/);
    expect(err).toMatch(/bad2: not a stream on-failure message \(DDBStreamBatchInfo\.startSequenceNumber: /);
    expect(out).toMatch(/3 parked batches, 1 replayed.*2 malformed/);
  });

  it('--max stops after that many messages; a message seen twice in one run is not replayed twice', async () => {
    const once = sqsMessage('m1', parked(100, 100));
    queue(EVALUATE_Q, [once, sqsMessage('m2', parked(100, 100))]);
    streamPages([[report(100)]]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [{ itemIdentifier: '100' }] }));
    expect((await run('--max', '1')).code).toBe(1);
    expect(invokedEvents()).toHaveLength(1);

    lambda.resetHistory();
    sqs.reset();
    queue(NOTIFY_Q, []);
    // The same message comes round again (its visibility timeout ran out): the run stops there.
    queue(EVALUATE_Q, [once, once]);
    const again = await run();
    expect(again.code).toBe(1);
    expect(invokedEvents()).toHaveLength(1);
    expect(again.err).toMatch(/message m1 came round again; stopping/);
    expect(madeVisible()).toEqual([
      ['receipt-m1', 0],
      ['receipt-m1', 0],
    ]);
  });

  it('replaying the same message in two runs invokes the function twice (the functions are idempotent)', async () => {
    streamPages([[report(100)]]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));
    const receipts: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      sqs.reset();
      queue(NOTIFY_Q, []);
      queue(EVALUATE_Q, [sqsMessage('m1', parked(100, 100))]);
      expect((await run()).code).toBe(0);
      receipts.push(...deleted());
    }
    expect(invokedEvents()).toHaveLength(2);
    expect(receipts).toEqual(['receipt-m1', 'receipt-m1']);
  });

  it('says what is missing when the stack has no such queue, and exits 1 without touching SQS', async () => {
    cloudFormation.on(ListStackResourcesCommand, { StackName: STACK }).resolves({
      StackResourceSummaries: RESOURCES.filter(
        (r) => !r.LogicalResourceId.startsWith('ProcessingNotifyFailures'),
      ),
    });
    const { code, err } = await run();
    expect(code).toBe(1);
    expect(err).toMatch(
      /expected one AWS::SQS::Queue whose logical id starts with ProcessingNotifyFailures, found 0/,
    );
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
  });

  it('refuses bad arguments with the usage', async () => {
    expect(await main(['--aws'], { out: () => {}, err: () => {} })).toBe(2);
    expect((await run('--function', 'ingest')).code).toBe(2);
    expect((await run('--max', '0')).code).toBe(2);
    expect((await run('--bogus')).code).toBe(2);
    expect(cloudFormation.calls()).toHaveLength(0);
  });
});

describe('replay --aws, messages received together', () => {
  const SHARD_B = 'shardId-00000001764547200000-99999999';
  const STREAM_B = 'arn:aws:dynamodb:eu-west-1:123456789012:table/keywatch/stream/2026-12-05T00:00:00.000';

  /** The queue answers each ReceiveMessage with the next chunk (several messages at once), then nothing. */
  /** Messages m1, m2, … of one record each, at these sequence numbers, received in one chunk. */
  function oneRecordMessages(seqs: readonly number[]) {
    queueChunks(EVALUATE_Q, [seqs.map((n, i) => sqsMessage(`m${i + 1}`, parked(n, n)))]);
    for (const n of seqs) shardFrom(n, [report(n)]);
  }

  function queueChunks(url: string, chunks: ReturnType<typeof sqsMessage>[][]) {
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: url })
      .resolves({ Attributes: { ApproximateNumberOfMessages: String(chunks.flat().length) } });
    let receive = sqs.on(ReceiveMessageCommand, { QueueUrl: url });
    for (const chunk of chunks) receive = receive.resolvesOnce({ Messages: chunk });
    receive.resolves({});
  }

  /** A shard's records from `start` on, in one GetRecords page behind its own iterator. */
  function shardFrom(
    start: number,
    records: _Record[],
    where: { shardId?: string; streamArn?: string } = {},
  ) {
    const at = { StreamArn: where.streamArn ?? STREAM_ARN, ShardId: where.shardId ?? SHARD };
    const iterator = `it ${at.StreamArn} ${at.ShardId} ${start}`;
    streams
      .on(GetShardIteratorCommand, { ...at, SequenceNumber: String(start) })
      .resolves({ ShardIterator: iterator });
    streams.on(GetRecordsCommand, { ShardIterator: iterator }).resolves({ Records: records });
  }

  const reads = () =>
    streams
      .commandCalls(GetShardIteratorCommand)
      .map((c) => [c.args[0].input.StreamArn, c.args[0].input.ShardId, c.args[0].input.SequenceNumber]);
  const delivered = () =>
    invokedEvents().map((i) => i.event.Records.map((r) => r.dynamodb?.SequenceNumber).join(','));
  const target = { name: 'evaluate' as const, functionName: EVALUATE_FN, queueUrl: EVALUATE_Q };
  const clients = () => ({
    sqs: new SQSClient({ region: 'eu-west-1' }),
    lambda: new LambdaClient({ region: 'eu-west-1' }),
    streams: new DynamoDBStreamsClient({ region: 'eu-west-1' }),
  });

  /** Two lanes' batches of one page: their ranges overlap (100…102 and 102…104); 105 is past both. */
  const twoLanes = () => {
    // In the order SQS happens to hand them out: the later range first.
    queueChunks(EVALUATE_Q, [[sqsMessage('m2', parked(102, 104)), sqsMessage('m1', parked(100, 102))]]);
    shardFrom(100, [report(100), report(101), report(102), membership(103), report(104), report(105)]);
  };

  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads two overlapping ranges of one shard once, delivers each record once, deletes both messages', async () => {
    twoLanes();
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    const { code, out, err } = await run();

    expect(code).toBe(0);
    const receives = sqs.commandCalls(ReceiveMessageCommand, { QueueUrl: EVALUATE_Q });
    expect(receives[0]?.args[0].input.MaxNumberOfMessages).toBe(10);
    expect(reads()).toEqual([[STREAM_ARN, SHARD, '100']]);
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(1);
    expect(delivered()).toEqual(['100,101,102,104']);
    expect(deleted().sort()).toEqual(['receipt-m1', 'receipt-m2']);
    expect(madeVisible()).toEqual([]);
    expect(err).toMatch(
      /evaluate \[1\/2\] message m1: batch 100…102 \(shard [^)]+\), merged with m2 into 100…104: 5 records read, 1 invocations, replayed; message deleted/,
    );
    expect(err).toMatch(
      /evaluate \[2\/2\] message m2: batch 102…104 \(shard [^)]+\): merged into message m1's range 100…104: replayed; message deleted/,
    );
    expect(out).toMatch(
      /evaluate: 2 parked batches, 2 replayed, 0 failed again.*2 deleted, 0 left in the queue \(1 replayed as part of an overlapping message's range\)/,
    );
  });

  it('leaves every message of a merged range that fails again, made visible, each result saying so', async () => {
    twoLanes();
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [{ itemIdentifier: '101' }] }));
    const lines: string[] = [];

    const results = await replayQueue(target, clients(), { log: (l) => lines.push(l) });

    expect(delivered()).toEqual(['100,101,102,104']);
    expect(deleted()).toEqual([]);
    expect(madeVisible()).toEqual([
      ['receipt-m1', 0],
      ['receipt-m2', 0],
    ]);
    expect(results).toEqual([
      {
        target: 'evaluate',
        messageId: 'm1',
        outcome: 'failed-again',
        records: 5,
        invocations: 1,
        deleted: false,
        detail: 'batchItemFailures: ["101"]',
      },
      {
        target: 'evaluate',
        messageId: 'm2',
        outcome: 'failed-again',
        records: 0,
        invocations: 0,
        deleted: false,
        mergedInto: 'm1',
        detail: `replayed as part of message m1's range 100…104: batchItemFailures: ["101"]`,
      },
    ]);
    expect(lines.join('\n')).toMatch(
      /message m2: .*merged into message m1's range 100…104: failed again; message left/,
    );
  });

  it('--dry-run reads a merged range once, invokes and deletes nothing, and puts both messages back', async () => {
    twoLanes();

    const { code, err } = await run('--dry-run');

    expect(code).toBe(0);
    expect(reads()).toEqual([[STREAM_ARN, SHARD, '100']]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(deleted()).toEqual([]);
    expect(madeVisible()).toEqual([
      ['receipt-m1', 0],
      ['receipt-m2', 0],
    ]);
    expect(err).toMatch(
      /m1: .*merged with m2 into 100…104: 5 records read, would invoke \S+ 1 times \(dry run\)/,
    );
    expect(err).toMatch(/m2: .*merged into message m1's range 100…104: readable \(dry run\)/);
  });

  it('replays disjoint ranges, other shards and other streams separately, even when they share sequence numbers', async () => {
    queueChunks(EVALUATE_Q, [
      [
        sqsMessage('a', parked(100, 101)),
        // Starts right after a: adjacent, not overlapping.
        sqsMessage('b', parked(102, 104)),
        sqsMessage('c', parked(100, 101, EVALUATE_FN, { shardId: SHARD_B })),
        sqsMessage('d', parked(100, 101, EVALUATE_FN, { streamArn: STREAM_B })),
      ],
    ]);
    shardFrom(100, [report(100), report(101)]);
    shardFrom(102, [report(102), report(103), report(104)]);
    shardFrom(100, [report(100), report(101)], { shardId: SHARD_B });
    shardFrom(100, [report(100), report(101)], { streamArn: STREAM_B });
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    const { code, out, err } = await run();

    expect(code).toBe(0);
    expect(
      reads()
        .map((r) => r.join(' '))
        .sort(),
    ).toEqual(
      [
        [STREAM_ARN, SHARD, '100'],
        [STREAM_ARN, SHARD, '102'],
        [STREAM_ARN, SHARD_B, '100'],
        [STREAM_B, SHARD, '100'],
      ]
        .map((r) => r.join(' '))
        .sort(),
    );
    expect(delivered().sort()).toEqual(['100,101', '100,101', '100,101', '102,103,104']);
    expect(deleted().sort()).toEqual(['receipt-a', 'receipt-b', 'receipt-c', 'receipt-d']);
    expect(err).not.toMatch(/merged/);
    expect(out).toMatch(/4 parked batches, 4 replayed.*4 deleted, 0 left in the queue$/m);
  });

  it('does not merge overlapping messages received in different chunks: each range is read and delivered', async () => {
    queueChunks(EVALUATE_Q, [[sqsMessage('m1', parked(100, 102))], [sqsMessage('m2', parked(101, 103))]]);
    shardFrom(100, [report(100), report(101), report(102)]);
    shardFrom(101, [report(101), report(102), report(103)]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    expect((await run()).code).toBe(0);

    expect(reads()).toEqual([
      [STREAM_ARN, SHARD, '100'],
      [STREAM_ARN, SHARD, '101'],
    ]);
    expect(delivered()).toEqual(['100,101,102', '101,102,103']);
    expect(deleted()).toEqual(['receipt-m1', 'receipt-m2']);
  });

  it('--max asks SQS for no more messages than are left to handle', async () => {
    oneRecordMessages([100, 101, 102]);
    lambda.on(InvokeCommand).resolves(answer({ batchItemFailures: [] }));

    expect((await run('--max', '3')).code).toBe(0);

    const asked = sqs
      .commandCalls(ReceiveMessageCommand, { QueueUrl: EVALUATE_Q })
      .map((c) => c.args[0].input.MaxNumberOfMessages);
    expect(asked).toEqual([3]);
    expect(deleted()).toHaveLength(3);
  });

  it('hides the messages still waiting for a full timeout again when the replays before them took over half of it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    oneRecordMessages([100, 200, 300]);
    // Each invocation takes 8 minutes: m2's turn comes 480 s after the chunk was received.
    lambda.on(InvokeCommand).callsFake(async () => {
      vi.setSystemTime(Date.now() + 480_000);
      return answer({ batchItemFailures: [] });
    });

    expect((await run()).code).toBe(0);

    const hidden = sqs
      .commandCalls(ChangeMessageVisibilityBatchCommand)
      .map((c) => c.args[0].input.Entries?.map((e) => [e.ReceiptHandle, e.VisibilityTimeout]));
    // Before m2 (480 s > 450 s): m2 and m3; before m3 only 480 s since then: m3 again.
    expect(hidden).toEqual([
      [
        ['receipt-m2', 900],
        ['receipt-m3', 900],
      ],
      [['receipt-m3', 900]],
    ]);
    expect(deleted()).toEqual(['receipt-m1', 'receipt-m2', 'receipt-m3']);
  });

  it('hides nothing again when the chunk is replayed within half the visibility timeout', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    queueChunks(EVALUATE_Q, [[sqsMessage('m1', parked(100, 100)), sqsMessage('m2', parked(200, 200))]]);
    shardFrom(100, [report(100)]);
    shardFrom(200, [report(200)]);
    lambda.on(InvokeCommand).callsFake(async () => {
      vi.setSystemTime(Date.now() + 440_000);
      return answer({ batchItemFailures: [] });
    });

    expect((await run()).code).toBe(0);

    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
    expect(deleted()).toEqual(['receipt-m1', 'receipt-m2']);
  });
});

describe('parseOnFailureMessage', () => {
  it('accepts Lambda’s record with fields it does not know, and refuses coordinates that cannot be read', () => {
    const withExtra = { ...parked(100, 101), somethingNew: 1 };
    const ok = parseOnFailureMessage(JSON.stringify(withExtra));
    expect(ok.ok && ok.message.DDBStreamBatchInfo.endSequenceNumber).toBe('101');
    const backwards = parseOnFailureMessage(JSON.stringify(parked(101, 100)));
    expect(backwards).toEqual({
      ok: false,
      error: expect.stringContaining('startSequenceNumber is after endSequenceNumber'),
    });
    const notDigits = {
      ...parked(100, 100),
      DDBStreamBatchInfo: { ...parked(100, 100).DDBStreamBatchInfo, endSequenceNumber: '1e5' },
    };
    expect(parseOnFailureMessage(JSON.stringify(notDigits))).toMatchObject({ ok: false });
    expect(parseOnFailureMessage('[]')).toMatchObject({ ok: false });
  });
});
