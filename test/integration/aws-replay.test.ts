// The AWS replay against the real stream and the real evaluate handler: a batch parked while its
// evaluator failed is read back from DynamoDB Local's stream by `replayQueue`, sent as the JSON
// payload an Invoke carries (SQS and Lambda mocked at the SDK boundary, the fake Lambda running the
// real handler on the decoded payload), and its transition is recorded; replaying the same message
// again invokes again and records nothing twice.
import { DescribeStreamCommand, DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { STREAM_CONSUMERS } from '#infra/stream-settings.ts';
import { replayQueue } from '#local/aws-replay.ts';
import { faultError } from '#local/faults.ts';
import { onFailureMessage } from '#local/parking.ts';
import { type ConsumerStats, deliverRecords, type FailedBatch } from '#local/stream-delivery.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';
import { evaluatorHarness } from '#test/helpers/evaluator.ts';

const FAILED_GROUP = 'bitlocker-key-backup-failed';
const STATUS = 'BitLocker Key Backup Status';
const clock = Date.parse('2026-12-07T10:00:00Z');
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/Keywatch-test-ProcessingEvaluateFailures-x';
const FUNCTION = 'Keywatch-test-ProcessingEvaluateFunction-y';

let streams: DynamoDBStreamsClient;
beforeAll(async () => {
  streams = new DynamoDBStreamsClient({
    endpoint: await dynamoEndpoint(),
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(() => streams.destroy());

const stats = (): ConsumerStats => ({
  invocations: 0,
  recordsDelivered: 0,
  failedInvocations: 0,
  batchesGivenUp: 0,
});

it('replays a parked evaluate batch from the real stream through the real handler, once per message, recording once', async () => {
  const t = await evaluatorHarness({ now: () => clock });
  await t.settle();
  await t.report('LAPTOP-1', 1, { [STATUS]: SCRIPT_OUTPUT.failed });
  const records = await t.stream.next();
  const broken = t.instance({
    writer: (w) => ({
      ...w,
      apply: async () => {
        throw faultError('dynamodb', 'throttle', 'TransactWriteItemsCommand');
      },
    }),
  });
  const parked: FailedBatch[] = [];
  const shards = await streams.send(new DescribeStreamCommand({ StreamArn: t.stream.streamArn }));
  await deliverRecords(
    {
      consumer: {
        name: 'evaluate',
        ...STREAM_CONSUMERS.evaluate,
        retryAttempts: 1,
        handler: (event: DynamoDBStreamEvent) => broken.deliver(event.Records),
      },
      shardId: shards.StreamDescription?.Shards?.[0]?.ShardId ?? '',
      streamArn: t.stream.streamArn,
      partitionKey: 'PK',
      stats: stats(),
      running: () => true,
      backoff: async () => undefined,
      onFailedBatch: (f) => parked.push(f),
    },
    records,
  );
  expect(parked).toHaveLength(1);
  expect(await t.transitions(FAILED_GROUP)).toEqual([]);
  // As SQS holds it: Lambda's on-failure record, as text.
  const body = JSON.stringify(onFailureMessage(parked[0]!, 'req-1'));

  const sqs = mockClient(new SQSClient({ region: 'eu-west-1' }));
  const lambda = mockClient(new LambdaClient({ region: 'eu-west-1' }));
  const events: { keywatchReplay?: boolean; Records: DynamoDBRecord[] }[] = [];
  lambda.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload));
    events.push(event);
    const answer = await t.main.deliver(event.Records, { replay: event.keywatchReplay === true });
    return {
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(answer ?? null)),
    } as Partial<InvokeCommandOutput>;
  });
  const replayOnce = async () => {
    sqs.reset();
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: body }] })
      .resolves({});
    const results = await replayQueue(
      { name: 'evaluate', functionName: FUNCTION, queueUrl: QUEUE },
      { sqs: sqs as unknown as SQSClient, lambda: lambda as unknown as LambdaClient, streams },
      { log: () => undefined },
    );
    return { results, deleted: sqs.commandCalls(DeleteMessageCommand).length };
  };

  const first = await replayOnce();
  expect(first.results.map((r) => [r.outcome, r.records, r.invocations])).toEqual([['replayed', 1, 1]]);
  expect(first.deleted).toBe(1);
  expect(events[0]?.keywatchReplay).toBe(true);
  expect(events[0]?.Records.map((r) => [r.eventSourceARN, r.dynamodb?.SequenceNumber])).toEqual([
    [t.stream.streamArn, records[0]?.dynamodb?.SequenceNumber],
  ]);
  expect((await t.transitions(FAILED_GROUP)).map((i) => i.event)).toEqual(['entered']);
  expect(await t.groupsOf('LAPTOP-1')).toEqual([FAILED_GROUP]);

  const second = await replayOnce();
  expect(second.results.map((r) => r.outcome)).toEqual(['replayed']);
  expect(events).toHaveLength(2);
  expect((await t.transitions(FAILED_GROUP)).map((i) => i.event)).toEqual(['entered']);
});
