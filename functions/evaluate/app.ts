// The evaluate function's middy chain: stream batches record by record with partial batch responses
// (Powertools BatchProcessor), and the minute tick for time-based groups.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Evaluator } from './evaluate.ts';
import { toChangeRecords } from './records.ts';

export interface TickEvent {
  readonly source: 'keywatch.tick';
}

function isTick(event: unknown): event is TickEvent {
  return (
    typeof event === 'object' && event !== null && (event as { source?: unknown }).source === 'keywatch.tick'
  );
}

export function createEvaluateHandler(deps: { evaluator: Evaluator; logger: Logger; metrics?: Metrics }) {
  const handler = middy(async (event: DynamoDBStreamEvent | TickEvent, context: Context) => {
    // Every invocation reports at least this, so no invocation logs "no metrics to publish".
    deps.metrics?.addMetric(
      isTick(event) ? 'Ticks' : 'StreamRecords',
      MetricUnit.Count,
      isTick(event) ? 1 : event.Records.length,
    );
    if (isTick(event)) {
      const started = await deps.evaluator.tick();
      deps.logger.info('tick', { fleetJob: started });
      return { batchItemFailures: [] } satisfies DynamoDBBatchResponse;
    }
    const changes = toChangeRecords(event.Records);
    const byEventId = new Map(changes.map((c, i) => [event.Records[i]?.eventID, c]));
    const batch = await deps.evaluator.prepare(changes);
    // Order per endpoint matters: once a record fails, the rest of the batch is left for the retry
    // (which resumes from the failed record) instead of being applied ahead of it.
    let failed = false;
    const recordHandler = async (record: DynamoDBRecord) => {
      if (failed) throw new Error('not processed: an earlier record of this batch failed');
      const change = byEventId.get(record.eventID);
      if (change === undefined) return;
      try {
        await deps.evaluator.handle(change, batch);
      } catch (e: unknown) {
        failed = true;
        deps.logger.error('record failed', { eventID: record.eventID, error: e as Error });
        throw e;
      }
    };
    // A processor per invocation: it holds the batch's state, and the local poller may run several
    // invocations (one per shard) at once in one process.
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(event, recordHandler, processor, {
      context,
      processInParallel: false,
      throwOnFullBatchFailure: false,
    });
  });
  const chain = handler.use(injectLambdaContext(deps.logger));
  return deps.metrics ? chain.use(logMetrics(deps.metrics)) : chain;
}
