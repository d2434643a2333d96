// Re-evaluation jobs in the table: one item per job, its progress checkpointed page by page. Each
// write is a stream record the evaluator runs the job's next stretch from.
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { JobItem, JobStore, NewJob, PageCursor } from '#functions/evaluate/ports.ts';
import { ITEM, keys } from './keys.ts';

const isConditionFailure = (e: unknown) => e instanceof Error && e.name === 'ConditionalCheckFailedException';

export function createJobStore(doc: DynamoDBDocumentClient, tableName: string): JobStore {
  return {
    async getJob(jobId: string): Promise<JobItem | undefined> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.job(jobId), ConsistentRead: true }),
      );
      return out.Item as JobItem | undefined;
    },

    /** Creates a job unless one with this id exists (ids derive from the stream record: redelivery-safe). */
    async createJob(job: NewJob, nowIso: string, expiresAt: number) {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...keys.job(job.jobId),
              type: ITEM.job,
              ...job,
              status: 'running',
              page: 0,
              cursor: null,
              processed: 0,
              createdAt: nowIso,
              expiresAt,
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          }),
        );
      } catch (e: unknown) {
        if (!isConditionFailure(e)) throw e;
      }
    },

    /** Records a page as done; the condition makes a redelivered page a no-op. */
    async advanceJob(job: JobItem, next: PageCursor | null, processed: number, nowIso: string) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.job(job.jobId),
            UpdateExpression:
              'SET #cursor = :cursor, #page = :next, #status = :status, #processed = :processed, #updatedAt = :now',
            ConditionExpression: '#page = :page',
            // Several of these names are DynamoDB reserved words: every one goes through a placeholder.
            ExpressionAttributeNames: {
              '#cursor': 'cursor',
              '#page': 'page',
              '#status': 'status',
              '#processed': 'processed',
              '#updatedAt': 'updatedAt',
            },
            ExpressionAttributeValues: {
              ':cursor': next,
              ':next': job.page + 1,
              ':page': job.page,
              ':status': next === null ? 'done' : 'running',
              ':processed': processed,
              ':now': nowIso,
            },
          }),
        );
        return true;
      } catch (e: unknown) {
        if (isConditionFailure(e)) return false;
        throw e;
      }
    },
  };
}
