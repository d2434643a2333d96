// The local on-failure destination: a stream batch that exhausted its retries (or grew too old) is
// written as one JSON line in exactly the shape Lambda sends to the stack's SQS on-failure queue —
// coordinates in the stream, not the records — so `npm run replay` handles the local file and the
// queue's messages alike (local/replay.ts). Appended synchronously: a kill right after a batch is
// given up still finds it parked.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as z from 'zod/mini';
import type { FailedBatch } from './stream-delivery.ts';

/** Lambda's on-failure record for a DynamoDB Streams batch (SQS message body). */
export interface OnFailureMessage {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError?: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

const SEQUENCE = /^\d{1,40}$/;
const isSequence = (value: unknown) => typeof value === 'string' && SEQUENCE.test(value);
const sequenceNumber = z.string().check(z.regex(SEQUENCE, 'a decimal sequence number'));

/**
 * What a replay relies on in an on-failure message: whose batch it was and where its records are.
 * The other fields are carried as Lambda wrote them (loose objects), so a field Lambda adds one day
 * does not make a parked batch unreadable.
 */
const OnFailureMessageSchema = z.looseObject({
  requestContext: z.looseObject({ requestId: z.string(), functionArn: z.string() }),
  DDBStreamBatchInfo: z
    .looseObject({
      shardId: z.string().check(z.minLength(1)),
      startSequenceNumber: sequenceNumber,
      endSequenceNumber: sequenceNumber,
      streamArn: z.string().check(z.startsWith('arn:')),
    })
    .check(
      // Runs even when a field check above failed: compare only two well-formed numbers.
      z.refine(
        (b) =>
          !(isSequence(b.startSequenceNumber) && isSequence(b.endSequenceNumber)) ||
          BigInt(b.startSequenceNumber) <= BigInt(b.endSequenceNumber),
        {
          message: 'startSequenceNumber is after endSequenceNumber',
        },
      ),
    ),
});

/**
 * Parses one on-failure message (a parking-file line or an SQS message body); the reason when it is
 * not one: not JSON, or the batch's coordinates missing or malformed.
 */
export function parseOnFailureMessage(
  text: string,
): { ok: true; message: OnFailureMessage } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const parsed = OnFailureMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
    return { ok: false, error: `not a stream on-failure message (${issues.join('; ')})` };
  }
  return { ok: true, message: parsed.data as unknown as OnFailureMessage };
}

/** The function ARN the local runtime gives each consumer (its Lambda context names it the same way). */
export const localFunctionArn = (consumer: string) =>
  `arn:aws:lambda:local:000000000000:function:${consumer}`;

/** The consumer a message is for: the last part of its function ARN, e.g. `evaluate` or `keywatch-…-evaluate…`. */
export function consumerOf(message: OnFailureMessage, consumers: readonly string[]): string | undefined {
  const name = message.requestContext.functionArn.split(':').at(-1)?.toLowerCase() ?? '';
  return consumers.find((c) => name === c) ?? consumers.find((c) => name.includes(c));
}

export function onFailureMessage(
  failure: FailedBatch,
  requestId: string,
  nowMs = Date.now(),
): OnFailureMessage {
  const arrival = (i: number) => {
    const seconds = failure.records.at(i)?.dynamodb?.ApproximateCreationDateTime;
    return new Date((seconds ?? nowMs / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  return {
    requestContext: {
      requestId,
      functionArn: localFunctionArn(failure.consumer),
      condition: failure.requestContext.condition,
      approximateInvokeCount: failure.requestContext.approximateInvokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      // A partial batch response is not a function error; an exception is.
      ...(failure.error.startsWith('batchItemFailures:') ? {} : { functionError: 'Unhandled' }),
    },
    version: '1.0',
    timestamp: new Date(nowMs).toISOString(),
    DDBStreamBatchInfo: {
      shardId: failure.DDBStreamBatchInfo.shardId,
      startSequenceNumber: failure.DDBStreamBatchInfo.startSequenceNumber,
      endSequenceNumber: failure.DDBStreamBatchInfo.endSequenceNumber,
      approximateArrivalOfFirstRecord: arrival(0),
      approximateArrivalOfLastRecord: arrival(-1),
      batchSize: failure.DDBStreamBatchInfo.batchSize,
      streamArn: failure.DDBStreamBatchInfo.streamArn,
    },
  };
}

export interface ParkingLot {
  readonly path: string;
  /** Writes the batch's on-failure message; returns it. */
  park(failure: FailedBatch): OnFailureMessage;
  /** Batches parked by this process, per consumer. */
  counts(): Record<string, number>;
}

export function fileParking(path: string): ParkingLot {
  const counts: Record<string, number> = {};
  let n = 0;
  return {
    path,
    park(failure) {
      const message = onFailureMessage(failure, `local-${process.pid}-${Date.now()}-${++n}`);
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, `${JSON.stringify(message)}\n`, 'utf8');
      counts[failure.consumer] = (counts[failure.consumer] ?? 0) + 1;
      return message;
    },
    counts: () => ({ ...counts }),
  };
}

/** The messages in a parking file (none when it does not exist); a line that is not one is refused. */
export function readParked(path: string): OnFailureMessage[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const parsed = parseOnFailureMessage(line);
      if (!parsed.ok) throw new Error(`${path}:${i + 1}: ${parsed.error}`);
      return parsed.message;
    });
}

/** Replaces the file's content with these messages (written aside and renamed over). */
export function writeParked(path: string, messages: readonly OnFailureMessage[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, messages.map((m) => `${JSON.stringify(m)}\n`).join(''), 'utf8');
  renameSync(temporary, path);
}
