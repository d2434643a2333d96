// Paged jobs: each walks its pages through the stream. A run works until its time budget is spent,
// then checkpoints on the job item; that update is the stream record that runs the next stretch, so a
// walk resumes after a failure and a redelivered record finds its page already done.
import { type EvaluatorContext, nowIso } from './context.ts';
import type { JobItem, JobKind, JobStore, NewJob, PageCursor } from './ports.ts';

export interface JobStep {
  readonly next: PageCursor | null;
  readonly processed: number;
  readonly changed: number;
}

/** What one kind of job does per page. */
export interface JobRunner {
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
  return {
    /** Starts a job unless it exists; its creation is the stream record that runs it. */
    async start(job: NewJob): Promise<void> {
      await store.createJob(job, nowIso(ctx), Math.floor(ctx.nowMs() / 1000) + JOB_DAYS * 86_400);
      ctx.count('JobsStarted');
    },

    /** Runs the job this stream image shows, when it is still where the image says. */
    async run(image: JobItem): Promise<void> {
      if (image.status !== 'running') return;
      const job = await store.getJob(image.jobId);
      // A redelivered or superseded record: the job has moved on (or finished) since this image.
      if (job === undefined || job.status !== 'running' || job.page !== image.page) return;
      const wait = (job.notBefore ?? 0) - ctx.nowMs();
      if (wait > 0) await ctx.sleep(wait);
      const startedAt = ctx.nowMs();
      const runner = runners[job.kind];
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
