import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { snsPublisher } from '#adapters/alert-publisher.ts';
import { transitionItem } from '#adapters/membership-writer.ts';
import { NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import type { Transition } from '#core/transition.ts';
import { createNotifyHandler, IDEMPOTENCY_PK } from '#functions/notify/notify.ts';
import { fileAlertSink } from '#local/alert-sink.ts';
import { startStreamPoller } from '#local/stream-poller.ts';
import { freshTable } from '#test/helpers/dynamo.ts';
import { FAILED_STATUS, transition } from '#test/helpers/factories.ts';

const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:keywatch-alerts';
const STATUS = FAILED_STATUS;

const sns = new SNSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const snsMock = mockClient(sns);
let table: { client: DynamoDBClient; tableName: string; endpoint: string };
let metrics: Metrics;
let handler: ReturnType<typeof createNotifyHandler>;
let sequence = 0;

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  table = await freshTable();
});

afterAll(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});

beforeEach(() => {
  snsMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const logger = new Logger({ serviceName: 'notify', logLevel: 'SILENT' });
  metrics = new Metrics({ namespace: 'keywatch-test', serviceName: 'notify', logger });
  handler = createNotifyHandler({
    publisher: snsPublisher(() => sns),
    topicArn: TOPIC_ARN,
    table,
    logger,
    metrics,
  });
});

/** Any TTL: these items are read within the test. */
const EXPIRES_AT = 4_102_444_800;

/** A stream record of the transition item as the evaluator stores it. */
function streamRecord(
  t: Transition,
  options: { eventName?: 'INSERT' | 'MODIFY'; item?: Record<string, unknown> } = {},
): DynamoDBRecord {
  const item = { ...transitionItem(t, EXPIRES_AT), ...options.item };
  const image = marshall(item, { removeUndefinedValues: true }) as Record<string, AttributeValue>;
  sequence++;
  return {
    eventID: `event-${sequence}`,
    eventName: options.eventName ?? 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_746_000_000,
      Keys: { PK: image.PK!, SK: image.SK! },
      NewImage: image,
      SequenceNumber: String(1000 + sequence).padStart(21, '0'),
      SizeBytes: 500,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/keywatch/stream/x',
  };
}

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'notify',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:notify',
    memoryLimitInMB: '256',
    awsRequestId: crypto.randomUUID(),
    logGroupName: '/aws/lambda/notify',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const invoke = (...records: DynamoDBRecord[]) =>
  handler({ Records: records } as DynamoDBStreamEvent, context());
const publishes = (): PublishCommandInput[] =>
  snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);
const seq = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? '';

describe('notify handler', () => {
  it('publishes one SNS message per alerted transition with the contract shape', async () => {
    const t = transition();

    const response = await invoke(streamRecord(t));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishes()).toHaveLength(1);
    const input = publishes()[0]!;
    expect(input).toEqual({
      TopicArn: TOPIC_ARN,
      Subject: 'BitLocker Key Backup Failed: LAPTOP-042 (Contoso / HQ)',
      MessageStructure: 'json',
      Message: expect.any(String),
      MessageAttributes: {
        groupId: { DataType: 'String', StringValue: 'bitlocker-key-backup-failed' },
        event: { DataType: 'String', StringValue: 'entered' },
        companyId: { DataType: 'String', StringValue: 'contoso' },
        siteId: { DataType: 'String', StringValue: 'hq' },
        severity: { DataType: 'String', StringValue: 'high' },
      },
    });
    const message = JSON.parse(input.Message!) as Record<string, string>;
    expect(Object.keys(message).sort()).toEqual(['default', 'email', 'sms']);
    expect(JSON.parse(message.default!)).toEqual({
      type: 'keywatch.group.entered',
      transitionId: t.transitionId,
      groupId: t.groupId,
      groupName: t.groupName,
      endpointId: t.endpointId,
      hostname: t.hostname,
      companyId: t.companyId,
      siteId: t.siteId,
      occurredAt: t.occurredAt,
      fields: t.fields,
      recordedLate: false,
    });
    expect(message.email).toContain(STATUS);
    expect(Array.from(message.sms!).length).toBeLessThanOrEqual(140);
  });

  it('keeps the subject within 100 characters for long names', async () => {
    await invoke(streamRecord(transition({ hostname: 'H'.repeat(300), companyName: 'C'.repeat(300) })));

    expect(publishes()[0]?.Subject?.length).toBeLessThanOrEqual(100);
  });

  it('publishes an exit as exited', async () => {
    await invoke(streamRecord(transition({ event: 'exited' })));

    expect(publishes()[0]?.MessageAttributes?.event?.StringValue).toBe('exited');
    expect(JSON.parse(JSON.parse(publishes()[0]!.Message!).default).type).toBe('keywatch.group.exited');
  });

  it('publishes a redelivered record only once', async () => {
    const record = streamRecord(transition());

    await invoke(record);
    const again = await invoke(record);

    expect(again).toEqual({ batchItemFailures: [] });
    expect(publishes()).toHaveLength(1);
  });

  it('publishes the same transition only once even within one batch', async () => {
    const t = transition();

    await invoke(streamRecord(t), streamRecord(t));

    expect(publishes()).toHaveLength(1);
  });

  it('fails only the record SNS rejected, and its retry publishes it once without repeating the others', async () => {
    const [a, b, c] = [transition(), transition(), transition()];
    snsMock.on(PublishCommand).callsFake((input: PublishCommandInput) => {
      if (input.Message?.includes(b.transitionId)) throw new Error('SNS throttled');
      return { MessageId: 'ok' };
    });
    const records = [streamRecord(a), streamRecord(b), streamRecord(c)];

    const first = await invoke(...records);

    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: seq(records[1]!) }] });
    expect(publishes().map((p) => p.Message?.includes(b.transitionId))).toEqual([false, true, false]);

    // Lambda retries from the failed record: b and c again.
    snsMock.on(PublishCommand).resolves({ MessageId: 'ok' });
    const retry = await invoke(records[1]!, records[2]!);

    expect(retry).toEqual({ batchItemFailures: [] });
    const published = publishes().slice(3);
    expect(published).toHaveLength(1);
    expect(published[0]?.Message).toContain(b.transitionId);
  });

  it('fails a record whose publish is still in progress elsewhere, so it is retried, not published twice', async () => {
    const record = streamRecord(transition());
    let release: () => void = () => undefined;
    snsMock.on(PublishCommand).callsFake(
      () =>
        new Promise((resolve) => {
          release = () => resolve({ MessageId: 'slow' });
        }),
    );

    const slow = invoke(record);
    await vi.waitFor(() => expect(publishes()).toHaveLength(1));
    const concurrent = await invoke(record);
    release();

    expect(concurrent).toEqual({ batchItemFailures: [{ itemIdentifier: seq(record) }] });
    expect(await slow).toEqual({ batchItemFailures: [] });
    expect(await invoke(record)).toEqual({ batchItemFailures: [] });
    expect(publishes()).toHaveLength(1);
  });

  it('ignores records that are not newly inserted alerted transitions', async () => {
    const response = await invoke(
      streamRecord(transition({ alert: false, severity: null })),
      streamRecord(transition(), { eventName: 'MODIFY' }),
      streamRecord(transition(), { item: { type: 'MEMBER' } }),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(publishes()).toHaveLength(0);
  });

  it('fails a transition record that does not match the stored shape', async () => {
    const bad = streamRecord(transition(), { item: { event: 'moved', groupId: 42 } });
    const good = streamRecord(transition());

    const response = await invoke(bad, good);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(bad) }] });
    expect(publishes()).toHaveLength(1);
  });

  it('remembers publishes in the table with an epoch-seconds TTL about seven days ahead', async () => {
    const t = transition();
    await invoke(streamRecord(t));

    const out = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': { S: IDEMPOTENCY_PK } },
      }),
    );
    const items = (out.Items ?? []).map((i) => unmarshall(i));
    const completed = items.filter((i) => i.status === 'COMPLETED');
    expect(completed.length).toBeGreaterThan(0);
    const nowSeconds = Date.now() / 1000;
    for (const item of completed) {
      expect(item.SK).toMatch(/^notify#/);
      expect(item.type).toBeUndefined(); // invisible to the stream filters
      expect(Number.isInteger(item.expiresAt)).toBe(true);
      // Set from the Lambda context, so a crash mid-publish frees the record when the invocation ends.
      expect(item.in_progress_expiration).toBeGreaterThan(Date.now());
      expect(item.expiresAt).toBeGreaterThan(nowSeconds + 7 * 24 * 3600 - 120);
      expect(item.expiresAt).toBeLessThan(nowSeconds + 7 * 24 * 3600 + 120);
    }
  });

  it('counts each publish in the AlertsPublished metric', async () => {
    const addMetric = vi.spyOn(metrics, 'addMetric');
    const t = transition();

    await invoke(streamRecord(t), streamRecord(transition()), streamRecord(t));

    expect(addMetric.mock.calls.filter(([name]) => name === 'AlertsPublished')).toHaveLength(2);
  });
});

describe('fileAlertSink', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keywatch-alerts-'));
    return () => rm(dir, { recursive: true, force: true });
  });

  it('appends each Publish input as one JSON line, creating directories, never interleaving', async () => {
    const path = join(dir, 'nested', 'alerts.jsonl');
    const lines: string[] = [];
    const sink = fileAlertSink(path, (line) => lines.push(line));
    const inputs = Array.from({ length: 50 }, (_, i) => ({
      TopicArn: 'local',
      Subject: `Alert ${i}`,
      Message: JSON.stringify({ default: 'x'.repeat(10_000 + i) }),
      MessageAttributes: { severity: { DataType: 'String', StringValue: 'high' } },
    }));

    await Promise.all(inputs.map((input) => sink.publish(input)));

    const written = (await readFile(path, 'utf8')).split('\n');
    expect(written.pop()).toBe('');
    expect(written.map((l) => JSON.parse(l))).toEqual(inputs);
    expect(lines[0]).toBe('ALERT high     Alert 0');
  });
});

describe('notify through the local stream poller and file sink', () => {
  it('turns one inserted alerted transition into one alert line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keywatch-alerts-'));
    const path = join(dir, 'alerts.jsonl');
    const summaries: string[] = [];
    const local = createNotifyHandler({
      publisher: fileAlertSink(path, (line) => summaries.push(line)),
      topicArn: 'arn:aws:sns:local:000000000000:keywatch-alerts',
      table,
      logger: new Logger({ serviceName: 'notify', logLevel: 'SILENT' }),
      metrics,
    });
    const streams = new DynamoDBStreamsClient({
      endpoint: table.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const described = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
    const poller = startStreamPoller({
      client: streams,
      tableStreamArn: described.Table!.LatestStreamArn!,
      consumers: [{ name: 'notify', filters: NOTIFY_FILTERS, batchSize: 10, handler: local }],
      startingPosition: 'LATEST',
      pollIntervalMs: 50,
    });
    try {
      await poller.drained();
      const alerted = transition();
      for (const t of [alerted, transition({ alert: false, severity: null })]) {
        const item = transitionItem(t, EXPIRES_AT);
        await table.client.send(new PutItemCommand({ TableName: table.tableName, Item: marshall(item) }));
      }
      await poller.drained();

      const lines = (await readFile(path, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const input = JSON.parse(lines[0]!) as PublishCommandInput;
      expect(input.Message).toContain(alerted.transitionId);
      expect(summaries).toEqual(['ALERT high     BitLocker Key Backup Failed: LAPTOP-042 (Contoso / HQ)']);
    } finally {
      await poller.stop();
      streams.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
