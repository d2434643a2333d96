// The local on-failure destination: a stream batch that exhausted its retries (or grew too old) is
// written as one JSON line in exactly the shape Lambda sends to the stack's SQS on-failure queue —
// coordinates in the stream, not the records — so `npm run replay` handles the local file and the
// queue's messages alike (local/replay.ts). Appended synchronously: a kill right after a batch is
// given up still finds it parked.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
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
      const message = JSON.parse(line) as OnFailureMessage;
      if (message.DDBStreamBatchInfo?.startSequenceNumber === undefined) {
        throw new Error(`${path}:${i + 1} is not a stream on-failure message`);
      }
      return message;
    });
}

/** Replaces the file's content with these messages (written aside and renamed over). */
export function writeParked(path: string, messages: readonly OnFailureMessage[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, messages.map((m) => `${JSON.stringify(m)}\n`).join(''), 'utf8');
  renameSync(temporary, path);
}
