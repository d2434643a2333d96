// `npm run replay -- --aws --stack <name>`: re-drives the stream batches parked in a deployed stack's
// SQS on-failure queues. For each message it reads the batch's records back from the table's stream
// and invokes the function with them, through the same engine as the local replay (local/replay.ts:
// same reader, same event filters and batch size as the event source mapping), then deletes the
// message once nothing failed. Credentials and region come from the SDK's default provider chain;
// the SDK retries throttled and failed calls itself. Runs from the repository only, never in Lambda.
import {
  type CloudFormationClient,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { STREAM_CONSUMERS } from '#infra/stream-settings.ts';
import { type OnFailureMessage, parseOnFailureMessage } from './parking.ts';
import { replayRange } from './replay.ts';
import { errorText, type StreamConsumer } from './stream-delivery.ts';

export type ReplayFunction = keyof typeof STREAM_CONSUMERS;
export const REPLAY_FUNCTIONS = Object.keys(STREAM_CONSUMERS) as ReplayFunction[];

/**
 * Logical-id prefixes of each consumer's function and on-failure queue in the synthesized template
 * (construct paths Processing/Evaluate/Function and Processing/EvaluateFailures in infra/processing.ts;
 * test/infra/aws-replay-resources.test.ts checks them against the template).
 */
export const LOGICAL_ID_PREFIXES: Readonly<Record<ReplayFunction, { function: string; queue: string }>> = {
  evaluate: { function: 'ProcessingEvaluateFunction', queue: 'ProcessingEvaluateFailures' },
  notify: { function: 'ProcessingNotifyFunction', queue: 'ProcessingNotifyFailures' },
};

/** One consumer of a deployed stack: the function to invoke and the queue its parked batches wait in. */
export interface ReplayTarget {
  readonly name: ReplayFunction;
  readonly functionName: string;
  readonly queueUrl: string;
}

/**
 * The functions and queues of a stack, from its resources. ListStackResources rather than
 * DescribeStackResources: the latter returns the first 100 resources only, and the stack is close.
 */
export async function resolveStack(
  cloudFormation: CloudFormationClient,
  stackName: string,
  names: readonly ReplayFunction[],
): Promise<ReplayTarget[]> {
  const resources: StackResourceSummary[] = [];
  for await (const page of paginateListStackResources({ client: cloudFormation }, { StackName: stackName })) {
    resources.push(...(page.StackResourceSummaries ?? []));
  }
  const one = (type: string, prefix: string) => {
    const found = resources.filter(
      (r) => r.ResourceType === type && r.LogicalResourceId?.startsWith(prefix) && r.PhysicalResourceId,
    );
    if (found.length !== 1) {
      throw new Error(
        `stack ${stackName}: expected one ${type} whose logical id starts with ${prefix}, found ${found.length}` +
          (found.length === 0 ? ' (is it a keywatch stack, and fully deployed?)' : ''),
      );
    }
    return found[0]?.PhysicalResourceId ?? '';
  };
  return names.map((name) => ({
    name,
    functionName: one('AWS::Lambda::Function', LOGICAL_ID_PREFIXES[name].function),
    // A queue's physical id is its URL.
    queueUrl: one('AWS::SQS::Queue', LOGICAL_ID_PREFIXES[name].queue),
  }));
}

export interface AwsClients {
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly streams: DynamoDBStreamsClient;
}

export interface QueueReplayOptions {
  /** Read and count the records; invoke, delete and change nothing. */
  readonly dryRun?: boolean;
  /** Delete the messages of batches whose records are past the stream's 24 h (left by default). */
  readonly deleteExpired?: boolean;
  /** Messages to handle at most from this queue. */
  readonly max?: number;
  /** How long a received message stays hidden from other readers while it is replayed. */
  readonly visibilityTimeoutSeconds?: number;
  /** Progress lines (stderr in the CLI). */
  readonly log: (line: string) => void;
}

export type QueueOutcome =
  /** Every record was handled: the message was deleted. */
  | 'replayed'
  /** Dry run: the records were read; this many invocations would carry them. */
  | 'readable'
  /** The function failed (FunctionError) or answered batchItemFailures, or could not be invoked. */
  | 'failed-again'
  /** The records are past the stream's 24 h (or the stream is gone). */
  | 'expired'
  /** The body is not a stream on-failure message. */
  | 'malformed'
  /** The records could not be read (other than expired): permissions, network, … */
  | 'error';

export interface QueueBatchResult {
  readonly target: ReplayFunction;
  readonly messageId: string;
  readonly outcome: QueueOutcome;
  readonly records: number;
  readonly invocations: number;
  readonly deleted: boolean;
  readonly detail?: string;
}

/** Long enough for the read and every invocation of a batch (a function runs 60 s at most). */
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 900;

/**
 * Replays the queue's messages one at a time until it is empty (or `max`). A message that is not
 * deleted is made visible again at the end (not only after its visibility timeout), so the operator
 * can run again as soon as the cause is fixed; within a run each message is handled once.
 */
export async function replayQueue(
  target: ReplayTarget,
  clients: AwsClients,
  opts: QueueReplayOptions,
): Promise<QueueBatchResult[]> {
  const { sqs } = clients;
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  const waiting = Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0);
  const total = opts.max === undefined ? waiting : Math.min(waiting, opts.max);
  opts.log(`${target.name}: about ${waiting} parked batches in ${target.queueUrl}`);
  const results: QueueBatchResult[] = [];
  const seen = new Set<string>();
  const left: string[] = [];
  try {
    while (opts.max === undefined || results.length < opts.max) {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: target.queueUrl,
          MaxNumberOfMessages: 1,
          VisibilityTimeout: opts.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
          // Long polling asks every SQS server; a short poll may answer "empty" while messages wait.
          WaitTimeSeconds: 1,
        }),
      );
      const m = received.Messages?.[0];
      if (m?.ReceiptHandle === undefined) break;
      const messageId = m.MessageId ?? m.ReceiptHandle;
      if (seen.has(messageId)) {
        // Its visibility timeout ran out during this run: everything else has been handled once.
        left.push(m.ReceiptHandle);
        opts.log(
          `${target.name}: message ${messageId} came round again; stopping here (run again for any left)`,
        );
        break;
      }
      seen.add(messageId);
      const n = `${target.name} [${results.length + 1}/${Math.max(total, results.length + 1)}]`;
      const result = await replayMessage(target, clients, opts, messageId, m.Body ?? '');
      let deleted = false;
      if (result.delete) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: target.queueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
        deleted = true;
      } else {
        left.push(m.ReceiptHandle);
      }
      opts.log(
        `${n} message ${messageId}: ${result.line}${deleted ? '; message deleted' : '; message left in the queue'}`,
      );
      results.push({ ...result.result, deleted });
    }
  } finally {
    await makeVisible(sqs, target.queueUrl, left, opts.log);
  }
  return results;
}

async function makeVisible(
  sqs: SQSClient,
  queueUrl: string,
  handles: readonly string[],
  log: (line: string) => void,
) {
  for (const handle of handles) {
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: handle,
          VisibilityTimeout: 0,
        }),
      );
    } catch (e: unknown) {
      log(
        `could not make a message visible again (it will be after its visibility timeout): ${errorText(e)}`,
      );
    }
  }
}

async function replayMessage(
  target: ReplayTarget,
  clients: AwsClients,
  opts: QueueReplayOptions,
  messageId: string,
  body: string,
): Promise<{ result: Omit<QueueBatchResult, 'deleted'>; delete: boolean; line: string }> {
  const base = { target: target.name, messageId, records: 0, invocations: 0 };
  const parsed = parseOnFailureMessage(body);
  if (!parsed.ok) {
    return {
      result: { ...base, outcome: 'malformed', detail: parsed.error },
      delete: false,
      line: `${parsed.error}; left for a look at it (aws sqs receive-message)`,
    };
  }
  const message = parsed.message;
  const info = message.DDBStreamBatchInfo;
  const range = `batch ${info.startSequenceNumber}…${info.endSequenceNumber} (shard ${info.shardId})`;
  let replayed: Awaited<ReturnType<typeof replayRange>>;
  try {
    replayed = await replayRange(message, consumerFor(target, clients.lambda, opts.dryRun === true), {
      streams: clients.streams,
    });
  } catch (e: unknown) {
    return {
      result: { ...base, outcome: 'error', detail: errorText(e) },
      delete: false,
      line: `${range}: could not read its records: ${errorText(e)}`,
    };
  }
  const counts = { records: replayed.records, invocations: replayed.invocations };
  const read = `${range}: ${replayed.records} records read`;
  if (replayed.outcome === 'expired' || replayed.records === 0) {
    const detail = expiredAdvice(target.name, message);
    return {
      result: { ...base, ...counts, outcome: 'expired', detail },
      delete: opts.deleteExpired === true && opts.dryRun !== true,
      line: `${range}: no longer in the stream (older than its 24 h, or the stream was replaced). ${detail}`,
    };
  }
  if (opts.dryRun === true) {
    return {
      result: { ...base, ...counts, outcome: 'readable' },
      delete: false,
      line: `${read}, would invoke ${target.functionName} ${replayed.invocations} times (dry run)`,
    };
  }
  if (replayed.outcome === 'failed-again') {
    const detail = replayed.parkedAgain.map((p) => p.error).join('; ');
    return {
      result: { ...base, ...counts, outcome: 'failed-again', detail },
      delete: false,
      line: `${read}, ${replayed.invocations} invocations, failed again: ${detail}`,
    };
  }
  return {
    result: { ...base, ...counts, outcome: 'replayed' },
    delete: true,
    line: `${read}, ${replayed.invocations} invocations, replayed`,
  };
}

function expiredAdvice(name: ReplayFunction, message: OnFailureMessage): string {
  const info = message.DDBStreamBatchInfo;
  const when = `${info.approximateArrivalOfFirstRecord ?? '?'} … ${info.approximateArrivalOfLastRecord ?? '?'}`;
  return name === 'evaluate'
    ? `Re-evaluate the fleet (GET /v1/groups/{id} and PUT the body back), then remove the message with --delete-expired.`
    : `Alert by hand for the alerted transitions recorded ${when} (GET /v1/transitions), then remove the message with --delete-expired.`;
}

/**
 * The queue's function as a stream consumer: the records the mapping's filters pass, in batches of
 * its batch size, each one Invoke (RequestResponse) with `{ keywatchReplay: true, Records }`. No
 * retries and no bisecting here: a batch that fails is left in the queue for the next run, once the
 * cause is fixed. A dry run counts the batches instead of invoking.
 */
function consumerFor(target: ReplayTarget, lambda: LambdaClient, dryRun: boolean): StreamConsumer {
  const settings = STREAM_CONSUMERS[target.name];
  return {
    name: target.name,
    filters: settings.filters,
    batchSize: settings.batchSize,
    timeoutSeconds: settings.timeoutSeconds,
    reportBatchItemFailures: true,
    parallelizationFactor: 1,
    bisectBatchOnError: false,
    retryAttempts: 0,
    handler: dryRun ? async () => undefined : (event) => invoke(lambda, target.functionName, event),
  };
}

class FunctionError extends Error {
  override name = 'FunctionError';
}

async function invoke(lambda: LambdaClient, functionName: string, event: unknown): Promise<unknown> {
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  const text = out.Payload === undefined ? '' : new TextDecoder().decode(out.Payload);
  if (out.FunctionError !== undefined) {
    // The payload of a failed invocation is { errorType, errorMessage, trace }.
    const error = safeJson(text) as { errorType?: unknown; errorMessage?: unknown } | undefined;
    throw new FunctionError(
      `${out.FunctionError}${error?.errorType ? ` ${String(error.errorType)}` : ''}: ${
        error?.errorMessage === undefined ? text.slice(0, 300) : String(error.errorMessage)
      }`,
    );
  }
  return safeJson(text);
}

function safeJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
