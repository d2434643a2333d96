// The AWS replay against the real stream and the real evaluate handler: a batch parked while its
// evaluator failed is read back from DynamoDB Local's stream by `replayQueue`, sent as the JSON
// payload an Invoke carries (SQS and Lambda mocked at the SDK boundary, the fake Lambda running the
// real handler on the decoded payload), and its transition is recorded; replaying the same message
// again invokes again and records nothing twice. Overlapping messages received together are read and
// delivered once.
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
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
import { onFailureMessage } from '#local/parking.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';
import { harnessWithUnwritableReport, transitionEvents } from '#test/helpers/evaluator.ts';
import { deliverParking, eightFailedReports } from '#test/helpers/parking.ts';

const FAILED_GROUP = 'bitlocker-key-backup-failed';
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

it('replays a parked evaluate batch from the real stream through the real handler, once per message, recording once', async () => {
  const { t, records, broken } = await harnessWithUnwritableReport(() => clock);
  const parked = await deliverParking(
    streams,
    {
      name: 'evaluate',
      ...STREAM_CONSUMERS.evaluate,
      retryAttempts: 1,
      handler: (event: DynamoDBStreamEvent) => broken.deliver(event.Records),
    },
    records,
    t.stream.streamArn,
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

it('replays overlapping messages received together once, as one range, through the real handler', async () => {
  const { t, records, parked } = await eightFailedReports(streams, () => clock);
  const message = (id: string, from: number, to: number) => ({
    MessageId: id,
    ReceiptHandle: `r-${id}`,
    Body: JSON.stringify(parked(from, to, `req-${id}`)),
  });
  const sqs = mockClient(new SQSClient({ region: 'eu-west-1' }));
  const lambda = mockClient(new LambdaClient({ region: 'eu-west-1' }));
  const delivered: string[] = [];
  lambda.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
    const event = JSON.parse(new TextDecoder().decode(input.Payload)) as { Records: DynamoDBRecord[] };
    delivered.push(...event.Records.map((r) => r.dynamodb?.SequenceNumber ?? ''));
    const answer = await t.main.deliver(event.Records, { replay: true });
    return {
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(answer ?? null)),
    } as Partial<InvokeCommandOutput>;
  });
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
  // Two lanes' batches of one page (interleaved), and a later batch apart from them, in one chunk.
  sqs
    .on(ReceiveMessageCommand)
    .resolvesOnce({ Messages: [message('c', 6, 7), message('b', 2, 5), message('a', 0, 4)] })
    .resolves({});

  const results = await replayQueue(
    { name: 'evaluate', functionName: FUNCTION, queueUrl: QUEUE },
    { sqs: sqs as unknown as SQSClient, lambda: lambda as unknown as LambdaClient, streams },
    { log: () => undefined },
  );

  expect(delivered).toEqual(records.map((r) => r.dynamodb?.SequenceNumber ?? ''));
  expect(results.map((r) => [r.messageId, r.outcome, r.records, r.mergedInto, r.deleted])).toEqual([
    ['a', 'replayed', 6, undefined, true],
    ['b', 'replayed', 0, 'a', true],
    ['c', 'replayed', 2, undefined, true],
  ]);
  expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual([
    'r-a',
    'r-b',
    'r-c',
  ]);
  expect((await transitionEvents(t, FAILED_GROUP)).length).toBe(8);
});
