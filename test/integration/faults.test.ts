// The fault injector (KEYWATCH_FAULTS) on a real DynamoDB client against DynamoDB Local: it injects the
// kinds it says at the rate it says, the same seed gives the same faults, a lost call takes effect,
// and the errors look like the SDK's. Also: notify does not alert twice when its idempotency
// "completed" write fails after a publish.
import {
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { PublishCommandInput } from '@aws-sdk/client-sns';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord, AttributeValue as LambdaAttributeValue } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { transitionItem } from '#adapters/membership-writer.ts';
import { createNotifyHandler } from '#functions/notify/notify.ts';
import {
  createFaultInjector,
  FAULT_KINDS,
  type FaultKind,
  isInjectedFault,
  parseFaults,
  withFaults,
  withPublishFaults,
} from '#local/faults.ts';
import { lambdaContext } from '#local/lambda-context.ts';
import { freshTable } from '#test/helpers/dynamo.ts';
import { transition } from '#test/helpers/factories.ts';

// No CloudWatch here: Powertools Metrics would print one EMF line per notify invocation.
beforeAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(() => {
  delete process.env.POWERTOOLS_METRICS_DISABLED;
});

/** Real calls through DynamoDB Local per run; the rates themselves are checked on 20,000 decisions. */
const CALLS = 400;

async function outcomes(seed: number, rate: number, calls = CALLS) {
  const table = await freshTable();
  const injector = createFaultInjector(parseFaults(`rate=${rate},seed=${seed}`));
  const client = withFaults(createDynamoClient(table.endpoint), injector, 'dynamodb');
  const seen: (FaultKind | 'ok')[] = [];
  for (let i = 0; i < calls; i++) {
    try {
      await client.send(
        new GetItemCommand({ TableName: table.tableName, Key: marshall({ PK: `X#${i}`, SK: 'X' }) }),
      );
      seen.push('ok');
    } catch (e: unknown) {
      if (!isInjectedFault(e)) throw e;
      seen.push(e[Symbol.for('keywatch.injectedFault') as never] as FaultKind);
    }
  }
  return { seen, counts: injector.counts(), summary: injector.summary() };
}

describe('fault injection middleware', () => {
  it('fails the fraction of calls it is given, split over the kinds, and counts what it injected', async () => {
    const injector = createFaultInjector(parseFaults('rate=0.2,seed=42'));
    const decided = Array.from({ length: 20_000 }, () => injector.decide('dynamodb', 'GetItemCommand'));
    // Binomial(20000, 0.2): sd ≈ 0.0028; per kind (0.05) sd ≈ 0.0015; ±5 sd.
    expect(Math.abs(decided.filter((k) => k !== undefined).length / 20_000 - 0.2)).toBeLessThan(0.014);
    for (const kind of FAULT_KINDS) {
      expect(Math.abs(decided.filter((k) => k === kind).length / 20_000 - 0.05)).toBeLessThan(0.008);
    }

    // Through a real client: the caller sees exactly what the injector says it injected.
    const { seen, counts, summary } = await outcomes(42, 0.2);
    const failed = seen.filter((s) => s !== 'ok').length;
    // Binomial(400, 0.2): mean 80, sd 8.
    expect(failed).toBeGreaterThan(40);
    expect(failed).toBeLessThan(120);
    for (const kind of FAULT_KINDS) {
      expect(seen.filter((s) => s === kind).length).toBe(counts.injected.dynamodb[kind]);
    }
    expect(counts.calls.dynamodb).toBe(CALLS);
    expect(summary).toContain(`dynamodb ${failed} of ${CALLS} calls`);
  }, 120_000);

  it('meets the same faults with the same seed, and others with another', async () => {
    const a = await outcomes(7, 0.1, 200);
    const b = await outcomes(7, 0.1, 200);
    const c = await outcomes(8, 0.1, 200);

    expect(b.seen).toEqual(a.seen);
    expect(c.seen).not.toEqual(a.seen);
  }, 120_000);

  it('lets a lost call take effect and throws SDK-shaped errors', async () => {
    const table = await freshTable();
    const lost = withFaults(
      createDynamoClient(table.endpoint),
      createFaultInjector(parseFaults('lost=1')),
      'dynamodb',
    );
    const throttled = withFaults(
      createDynamoClient(table.endpoint),
      createFaultInjector(parseFaults('throttle=1')),
      'dynamodb',
    );
    const clean = createDynamoClient(table.endpoint);
    const Key = marshall({ PK: 'LOST#1', SK: 'X' });

    await expect(
      lost.send(new PutItemCommand({ TableName: table.tableName, Item: { ...Key, v: { N: '1' } } })),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    const stored = await clean.send(
      new GetItemCommand({ TableName: table.tableName, Key, ConsistentRead: true }),
    );
    expect(stored.Item?.v).toEqual({ N: '1' });

    const error = await throttled
      .send(new GetItemCommand({ TableName: table.tableName, Key }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(error).toMatchObject({ $fault: 'client', $metadata: { httpStatusCode: 400 } });
  });

  it('never loses a publish answer (SNS cannot publish idempotently to e-mail and SMS)', async () => {
    const injector = createFaultInjector(parseFaults('lost=1'));
    const sent: PublishCommandInput[] = [];
    const publisher = withPublishFaults({ publish: async (input) => void sent.push(input) }, injector);

    await publisher.publish({ Message: 'm' });

    expect(sent).toHaveLength(1);
    expect(injector.counts().injected.sns.lost).toBe(0);
  });

  it('refuses to switch on inside Lambda, and refuses what it cannot read', async () => {
    const { faultsFromEnv } = await import('#local/faults.ts');
    expect(() =>
      faultsFromEnv({ KEYWATCH_FAULTS: 'rate=0.1', AWS_LAMBDA_FUNCTION_NAME: 'keywatch-evaluate' }),
    ).toThrow(/refusing/);
    expect(faultsFromEnv({})).toBeUndefined();
    expect(faultsFromEnv({ KEYWATCH_FAULTS: 'rate=0.2,seed=3' })?.spec).toEqual({
      rates: { throttle: 0.05, timeout: 0.05, error: 0.05, lost: 0.05 },
      seed: 3,
    });
    expect(parseFaults('throttle=0.1,lost=0.02').rates).toEqual({
      throttle: 0.1,
      timeout: 0,
      error: 0,
      lost: 0.02,
    });
    expect(() => parseFaults('rate=0.2,lost=0.1')).toThrow(/either rate or per-kind/);
    expect(() => parseFaults('rate=1.5')).toThrow(/at most 1/);
    expect(() => parseFaults('rat=0.1')).toThrow(/unknown key "rat"/);
    expect(() => parseFaults('rate=abc')).toThrow(/key=number/);
  });
});

describe('notify when its idempotency write fails', () => {
  it('does not publish an alert twice when the "completed" write fails after the publish', async () => {
    const table = await freshTable();
    const client = createDynamoClient(table.endpoint);
    // The first UpdateItem (Powertools' "completed" write) fails, after the alert was published.
    let failures = 1;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand' && failures > 0) {
          failures--;
          throw Object.assign(new Error('Injected: connection reset'), {
            name: 'TimeoutError',
            code: 'ECONNRESET',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failFirstUpdate' },
    );
    const published: PublishCommandInput[] = [];
    const handler = createNotifyHandler({
      publisher: { publish: async (input) => void published.push(input) },
      topicArn: 'arn:aws:sns:local:000000000000:alerts',
      table: { client, tableName: table.tableName },
    });
    const t = transition();
    const image = marshall(transitionItem(t, 4_102_444_800), { removeUndefinedValues: true }) as Record<
      string,
      LambdaAttributeValue
    >;
    const record: DynamoDBRecord = {
      eventID: 'e-1',
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      dynamodb: { Keys: { PK: image.PK!, SK: image.SK! }, NewImage: image, SequenceNumber: '1' },
    };
    // Before the fix the first delivery failed its record: left "in progress", it was retried and,
    // once that record expired with the invocation's deadline, published a second time.
    const context = (): Context => lambdaContext('notify');

    const first = await handler({ Records: [record] }, context());
    const again = await handler({ Records: [record] }, context());

    expect(first).toEqual({ batchItemFailures: [] });
    expect(again).toEqual({ batchItemFailures: [] });
    expect(published).toHaveLength(1);
    expect(failures).toBe(0);
  });
});
