// The AWS replay against the real stream and the real evaluate handler: a batch parked while its
// evaluator failed is read back from DynamoDB Local's stream by `replayQueue`, sent as the JSON
// payload an Invoke carries (SQS and Lambda mocked at the SDK boundary, the fake Lambda running the
// real handler on the decoded payload), and its transition is recorded; replaying the same message
// again invokes again and records nothing twice.
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
import { harnessWithUnwritableReport } from '#test/helpers/evaluator.ts';
import { deliverParking } from '#test/helpers/parking.ts';

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
