// `npm run replay -- --aws --stack <name>`: re-drives the stream batches parked in a deployed stack's
// SQS on-failure queues. For each message it reads the batch's records back from the table's stream
// and invokes the function with them, through the same engine as the local replay (local/replay.ts:
// same reader, same event filters and batch size as the event source mapping), then deletes the
// message once nothing failed; messages received together whose ranges overlap are replayed as one.
// Credentials and region come from the SDK's default provider chain; the SDK retries throttled and
// failed calls itself. Runs from the repository only, never in Lambda.
import {
  type CloudFormationClient,
  paginateListStackResources,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { STREAM_CONSUMERS } from '#infra/stream-settings.ts';
import { type OnFailureMessage, parseOnFailureMessage } from './parking.ts';
import { overlappingRanges, replayRange, spanning } from './replay.ts';
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
  /**
   * The message whose replay carried this one's range (their ranges overlapped on one shard; the
   * counts are on that message's result).
   */
  readonly mergedInto?: string;
}

/** Long enough for the read and every invocation of a batch (a function runs 60 s at most). */
const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 900;
/** Messages per ReceiveMessage: SQS's maximum. */
const CHUNK = 10;

/** A received message whose body is an on-failure message. */
interface Parked {
  readonly messageId: string;
  readonly handle: string;
  readonly message: OnFailureMessage;
}

/**
 * Replays the queue's messages until it is empty (or `max`), received ten at a time. The messages of
 * a chunk whose ranges overlap on one shard (the lanes of one stream page: each lane's range holds the
 * other lanes' records too) are replayed once, as one widened range, and all get its outcome: deleted
 * together when it succeeded, all left when it failed. Messages of different chunks are never merged;
 * a range replayed twice records and alerts nothing twice. A message that is not deleted is made
 * visible again at the end (not only after its visibility timeout), so the operator can run again as
 * soon as the cause is fixed; within a run each message is handled once.
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
  const visibility = opts.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
  const consumer = consumerFor(target, clients.lambda, opts.dryRun === true);
  const results: QueueBatchResult[] = [];
  const seen = new Set<string>();
  const left: string[] = [];
  const number = () => `${target.name} [${results.length + 1}/${Math.max(total, results.length + 1)}]`;
  try {
    while (opts.max === undefined || results.length < opts.max) {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: target.queueUrl,
          MaxNumberOfMessages: opts.max === undefined ? CHUNK : Math.min(CHUNK, opts.max - results.length),
          VisibilityTimeout: visibility,
          // Long polling asks every SQS server; a short poll may answer "empty" while messages wait.
          WaitTimeSeconds: 1,
        }),
      );
      let refreshedAt = Date.now();
      const messages = (received.Messages ?? []).flatMap((m) =>
        m.ReceiptHandle === undefined ? [] : [{ ...m, ReceiptHandle: m.ReceiptHandle }],
      );
      if (messages.length === 0) break;
      let cameRound = false;
      const parked: Parked[] = [];
      for (const m of messages) {
        const messageId = m.MessageId ?? m.ReceiptHandle;
        if (seen.has(messageId)) {
          // Its visibility timeout ran out during this run: everything else has been handled once.
          left.push(m.ReceiptHandle);
          opts.log(
            `${target.name}: message ${messageId} came round again; stopping after the messages received with it (run again for any left)`,
          );
          cameRound = true;
          continue;
        }
        seen.add(messageId);
        const parsed = parseOnFailureMessage(m.Body ?? '');
        if (parsed.ok) {
          parked.push({ messageId, handle: m.ReceiptHandle, message: parsed.message });
          continue;
        }
        left.push(m.ReceiptHandle);
        opts.log(
          `${number()} message ${messageId}: ${parsed.error}; left for a look at it (aws sqs receive-message); message left in the queue`,
        );
        results.push({
          target: target.name,
          messageId,
          outcome: 'malformed',
          records: 0,
          invocations: 0,
          deleted: false,
          detail: parsed.error,
        });
      }
      const byMessage = new Map(parked.map((p) => [p.message, p]));
      const groups = overlappingRanges(
        parked.map((p) => p.message),
        [consumer],
      ).map((g) => g.flatMap((m) => byMessage.get(m) ?? []));
      for (const [i, group] of groups.entries()) {
        // The chunk's messages were hidden together at its receipt; one that waits behind slow
        // replays is hidden again for a full timeout before its turn, not left to come round.
        if (i > 0 && Date.now() - refreshedAt > (visibility * 1000) / 2) {
          await hideAgain(sqs, target.queueUrl, groups.slice(i).flat(), visibility, opts.log);
          refreshedAt = Date.now();
        }
        const replayed = await replayGroup(target, clients, consumer, opts, group);
        for (const { parked: p, result, line } of replayed.results) {
          let deleted = false;
          if (replayed.delete) {
            await sqs.send(new DeleteMessageCommand({ QueueUrl: target.queueUrl, ReceiptHandle: p.handle }));
            deleted = true;
          } else {
            left.push(p.handle);
          }
          opts.log(
            `${number()} message ${p.messageId}: ${line}${deleted ? '; message deleted' : '; message left in the queue'}`,
          );
          results.push({ ...result, deleted });
        }
      }
      if (cameRound) break;
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

/** Restarts the visibility timeout of messages still to be replayed (at most a chunk: one call). */
async function hideAgain(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Parked[],
  visibility: number,
  log: (line: string) => void,
) {
  const failed = (why: string) =>
    log(`could not hide messages again (one may come round again in this run): ${why}`);
  try {
    const out = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.handle,
          VisibilityTimeout: visibility,
        })),
      }),
    );
    for (const f of out.Failed ?? []) {
      failed(`${messages[Number(f.Id)]?.messageId ?? f.Id}: ${f.Code ?? ''} ${f.Message ?? ''}`.trim());
    }
  } catch (e: unknown) {
    failed(errorText(e));
  }
}

interface GroupReplay {
  /** Every message of the group is deleted, or none. */
  readonly delete: boolean;
  readonly results: readonly {
    readonly parked: Parked;
    readonly result: Omit<QueueBatchResult, 'deleted'>;
    readonly line: string;
  }[];
}

/**
 * Replays the group's range once (its messages' ranges overlap on one shard, or it is one message).
 * The first message carries the counts; the others say whose range carried theirs.
 */
async function replayGroup(
  target: ReplayTarget,
  clients: AwsClients,
  consumer: StreamConsumer,
  opts: QueueReplayOptions,
  group: readonly Parked[],
): Promise<GroupReplay> {
  const [first, ...rest] = group;
  if (first === undefined) return { delete: false, results: [] };
  const span = spanning(group.map((p) => p.message));
  const replayed = await replaySpan(target, clients, consumer, opts, span);
  const spanText = `${span.DDBStreamBatchInfo.startSequenceNumber}…${span.DDBStreamBatchInfo.endSequenceNumber}`;
  const merged =
    rest.length === 0 ? '' : `, merged with ${rest.map((p) => p.messageId).join(', ')} into ${spanText}`;
  const base = (p: Parked) => ({ target: target.name, messageId: p.messageId });
  return {
    delete: replayed.delete,
    results: [
      {
        parked: first,
        result: { ...base(first), ...replayed.result },
        line: `${rangeOf(first.message)}${merged}: ${replayed.line}`,
      },
      ...rest.map((p) => {
        const detail = `replayed as part of message ${first.messageId}'s range ${spanText}`;
        return {
          parked: p,
          result: {
            ...base(p),
            outcome: replayed.result.outcome,
            records: 0,
            invocations: 0,
            mergedInto: first.messageId,
            detail: replayed.result.detail === undefined ? detail : `${detail}: ${replayed.result.detail}`,
          },
          line: `${rangeOf(p.message)}: merged into message ${first.messageId}'s range ${spanText}: ${OUTCOME_WORDS[replayed.result.outcome]}`,
        };
      }),
    ],
  };
}

const OUTCOME_WORDS: Readonly<Record<QueueOutcome, string>> = {
  replayed: 'replayed',
  readable: 'readable (dry run)',
  'failed-again': 'failed again',
  expired: 'no longer in the stream',
  malformed: 'malformed',
  error: 'its records could not be read',
};

const rangeOf = (message: OnFailureMessage) => {
  const info = message.DDBStreamBatchInfo;
  return `batch ${info.startSequenceNumber}…${info.endSequenceNumber} (shard ${info.shardId})`;
};

/** Reads one range and invokes the function with its records; what to do with its message(s). */
async function replaySpan(
  target: ReplayTarget,
  clients: AwsClients,
  consumer: StreamConsumer,
  opts: QueueReplayOptions,
  message: OnFailureMessage,
): Promise<{
  result: Pick<QueueBatchResult, 'outcome' | 'records' | 'invocations' | 'detail'>;
  delete: boolean;
  line: string;
}> {
  const none = { records: 0, invocations: 0 };
  let replayed: Awaited<ReturnType<typeof replayRange>>;
  try {
    replayed = await replayRange(message, consumer, { streams: clients.streams });
  } catch (e: unknown) {
    return {
      result: { ...none, outcome: 'error', detail: errorText(e) },
      delete: false,
      line: `could not read its records: ${errorText(e)}`,
    };
  }
  const counts = { records: replayed.records, invocations: replayed.invocations };
  const read = `${replayed.records} records read`;
  if (replayed.outcome === 'expired' || replayed.records === 0) {
    const detail = expiredAdvice(target.name, message);
    return {
      result: { ...counts, outcome: 'expired', detail },
      delete: opts.deleteExpired === true && opts.dryRun !== true,
      line: `no longer in the stream (older than its 24 h, or the stream was replaced). ${detail}`,
    };
  }
  if (opts.dryRun === true) {
    return {
      result: { ...counts, outcome: 'readable' },
      delete: false,
      line: `${read}, would invoke ${target.functionName} ${replayed.invocations} times (dry run)`,
    };
  }
  if (replayed.outcome === 'failed-again') {
    const detail = replayed.parkedAgain.map((p) => p.error).join('; ');
    return {
      result: { ...counts, outcome: 'failed-again', detail },
      delete: false,
      line: `${read}, ${replayed.invocations} invocations, failed again: ${detail}`,
    };
  }
  return {
    result: { ...counts, outcome: 'replayed' },
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
