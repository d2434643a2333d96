// The evaluate function's middy chain: stream batches record by record with partial batch responses
// (Powertools BatchProcessor), and the minute tick for time-based groups (endpoints due, GSI5).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { TallyStore } from '#adapters/tally-store.ts';
import { retryTransient } from '#adapters/transient.ts';
import { limiter } from './context.ts';
import type { Evaluator } from './evaluate.ts';
import { toChangeRecords } from './records.ts';
import { tallyRecord } from './tally-records.ts';

/**
 * A stream batch; `keywatchReplay` marks a parked batch re-driven by an operator (docs/deploy.md,
 * "Replaying parked batches"; `npm run replay` locally). Lambda's own deliveries never carry it.
 */
export type EvaluateStreamEvent = DynamoDBStreamEvent & { readonly keywatchReplay?: boolean };

export interface TickEvent {
  readonly source: 'keywatch.tick';
}

function isTick(event: unknown): event is TickEvent {
  return (
    typeof event === 'object' && event !== null && (event as { source?: unknown }).source === 'keywatch.tick'
  );
}

const itemOf = (record: DynamoDBRecord) => JSON.stringify(record.dynamodb?.Keys ?? record.eventID);

/**
 * A replayed batch answers every record of an item with a failed record as failed, the ones that
 * succeeded before the failure too, so the retry (which resends only the failed records) and a batch
 * parked again hold the item's whole run of reports. The states of passed-over reports are recorded
 * from the run the batch holds (recordLateStates, after the item's last record): a retry that held
 * only the records from the failure on would reconcile a shorter run, and a state held only by the
 * records before the failure would never be recorded. Records that succeeded are safe to repeat.
 */
function wholeItemsFailed(
  records: readonly DynamoDBRecord[],
  response: DynamoDBBatchResponse,
  item: (r: DynamoDBRecord) => string,
): DynamoDBBatchResponse {
  if (response.batchItemFailures.length === 0) return response;
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const failedItems = new Set(
    records.filter((r) => failed.has(r.dynamodb?.SequenceNumber ?? '')).map((r) => item(r)),
  );
  return {
    batchItemFailures: records
      .filter((r) => failedItems.has(item(r)))
      .map((r) => ({ itemIdentifier: r.dynamodb?.SequenceNumber ?? '' })),
  };
}

export function createEvaluateHandler(deps: {
  evaluator: Evaluator;
  logger: Logger;
  metrics?: Metrics;
  /** The status page's per-company counters, kept from the same records (and censused on the tick). */
  tally?: TallyStore;
}) {
  const handler = middy(async (event: EvaluateStreamEvent | TickEvent, context: Context) => {
    // Every invocation reports at least this, so no invocation logs "no metrics to publish".
    deps.metrics?.addMetric(
      isTick(event) ? 'Ticks' : 'StreamRecords',
      MetricUnit.Count,
      isTick(event) ? 1 : event.Records.length,
    );
    if (isTick(event)) {
      const started = await deps.evaluator.tick();
      const census = await deps.tally?.censusIfDue(Date.now());
      deps.logger.info('tick', { dueJob: started, census });
      return { batchItemFailures: [] } satisfies DynamoDBBatchResponse;
    }
    const changes = toChangeRecords(event.Records);
    const byEventId = new Map(changes.map((c, i) => [event.Records[i]?.eventID, c]));
    // A throttled or failed call is tried again in place, a few times, before the record (or here the
    // whole batch) fails: a failed record holds back its item's later ones, and a batch that keeps
    // failing is parked. Records are safe to repeat: each is built for redelivery.
    // A parked batch re-driven by an operator (docs/deploy.md, `npm run replay`) says so: only then
    // may its reports' states have been passed over by the stream, and need recording late.
    const replay = event.keywatchReplay === true;
    const batch = await retryTransient(() => deps.evaluator.prepare(changes, { replay }));
    // Order per item matters, as the stream keeps it (one endpoint's reports, one job's pages): each
    // item's records run one after another, and once one fails the item's later records are left for
    // the retry, which resumes from the lowest failed record. Different items run side by side; the
    // retry delivers again those that came after the failure, which finds them done.
    const after = new Map<string, Promise<unknown>>();
    const failedItems = new Set<string>();
    const slot = limiter(deps.evaluator.config.concurrency);
    const recordHandler = (record: DynamoDBRecord) => {
      const item = itemOf(record);
      const run = async () => {
        if (failedItems.has(item)) throw new Error('not processed: an earlier record of this item failed');
        const change = byEventId.get(record.eventID);
        if (change === undefined) return;
        try {
          await slot(async () => {
            await retryTransient(() => deps.evaluator.handle(change, batch));
            if (deps.tally !== undefined) await tallyRecord(deps.tally, record);
          });
        } catch (e: unknown) {
          failedItems.add(item);
          deps.logger.error('record failed', { eventID: record.eventID, error: e as Error });
          throw e;
        }
      };
      const mine = (after.get(item) ?? Promise.resolve()).then(run, run);
      after.set(item, mine);
      return mine;
    };
    // A processor per invocation: it holds the batch's state, and the local poller may run several
    // invocations (one per shard) at once in one process.
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    const response = await processPartialResponse(event, recordHandler, processor, {
      context,
      processInParallel: true,
      throwOnFullBatchFailure: false,
    });
    return replay ? wholeItemsFailed(event.Records, response, itemOf) : response;
  });
  const chain = handler.use(injectLambdaContext(deps.logger));
  return deps.metrics ? chain.use(logMetrics(deps.metrics)) : chain;
}
