// Paged jobs: each walks its pages through the stream. A run works until its time budget is spent,
// then checkpoints on the job item; that update is the stream record that runs the next stretch, so a
// walk resumes after a failure and a redelivered record finds its page already done. A job may split
// itself into parts first (a fleet walk into segments), each a job of its own walked the same way.
import { type EvaluatorContext, mapLimit, nowIso } from './context.ts';
import type { JobItem, JobKind, JobStore, NewJob, PageCursor } from './ports.ts';

export interface JobStep {
  readonly next: PageCursor | null;
  readonly processed: number;
  readonly changed: number;
}

/** What one kind of job does per page. */
export interface JobRunner {
  /**
   * The jobs this one is run as instead, when it is split into parts that walk side by side (a fleet
   * walk into segments of index shards); undefined to run it page by page itself.
   */
  split?(job: JobItem): readonly NewJob[] | undefined;
  /** Once per run, before the first page. */
  begin?(job: JobItem): Promise<void>;
  /** One page; undefined when the job has nothing (left) to do. */
  step(job: JobItem, cursor: PageCursor | null): Promise<JobStep | undefined>;
}

/** Days a finished job item is kept (table TTL). */
const JOB_DAYS = 7;

export function createJobs(
  ctx: EvaluatorContext,
  store: JobStore,
  runners: Readonly<Record<JobKind, JobRunner>>,
) {
  /** Starts a job unless it exists; its creation is the stream record that runs it. */
  async function start(job: NewJob): Promise<void> {
    await store.createJob(job, nowIso(ctx), Math.floor(ctx.nowMs() / 1000) + JOB_DAYS * 86_400);
    ctx.count('JobsStarted');
  }

  return {
    start,

    /** Runs the job this stream image shows, when it is still where the image says. */
    async run(image: JobItem): Promise<void> {
      if (image.status !== 'running') return;
      const job = await store.getJob(image.jobId);
      // A redelivered or superseded record: the job has moved on (or finished) since this image.
      if (job === undefined || job.status !== 'running' || job.page !== image.page) return;
      const runner = runners[job.kind];
      const parts = runner.split?.(job);
      if (parts !== undefined) {
        // Each part is its own job item: its own partition key, so its stream records land on their
        // own lane (and shard) and the parts run on separate invocations side by side, each
        // checkpointing itself. Their ids derive from this job's, so a retry after a crash part-way
        // creates only the missing ones; then this job is done.
        await mapLimit(parts, ctx.config.concurrency, start);
        await store.advanceJob(job, null, 0, nowIso(ctx));
        ctx.logger.info('job split', { jobId: job.jobId, reason: job.reason, parts: parts.length });
        return;
      }
      const wait = (job.notBefore ?? 0) - ctx.nowMs();
      if (wait > 0) await ctx.sleep(wait);
      const startedAt = ctx.nowMs();
      await runner.begin?.(job);
      let cursor: PageCursor | null = job.cursor;
      let processed = job.processed;
      let changed = 0;
      // The budget bounds the pages of one run: the next run continues from the checkpoint.
      do {
        const step = await runner.step(job, cursor);
        if (step === undefined) {
          cursor = null;
          break;
        }
        ctx.count('JobPages');
        cursor = step.next;
        processed += step.processed;
        changed += step.changed;
      } while (cursor !== null && ctx.nowMs() - startedAt < ctx.config.jobBudgetMs);
      await store.advanceJob(job, cursor, processed, nowIso(ctx));
      ctx.logger.info('job progress', {
        jobId: job.jobId,
        reason: job.reason,
        processed,
        changed,
        done: cursor === null,
      });
    },
  };
}
