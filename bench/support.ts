// Helpers shared by the benchmarks that run the local pipeline: a quiet pipeline, percentiles,
// budget lines, and the JSON summary each benchmark leaves under .keywatch/bench/ (ignored by git).
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { fileAlertSink } from '../local/alert-sink.ts';
import { type Pipeline, type PipelineOptions, startPipeline } from '../local/pipeline.ts';
import type { BudgetResult } from './run.ts';

export const RESULTS_DIR = join(process.cwd(), '.keywatch', 'bench');

export async function writeResult(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  await writeFile(path, `${JSON.stringify(data, null, 2)}\n`, 'utf8');
  console.log(`summary written to ${path}`);
  return path;
}

/** The local pipeline with its console quiet and alerts appended to a fresh file of this run. */
export async function quietPipeline(
  name: string,
  opts: PipelineOptions = {},
): Promise<{ pipeline: Pipeline; alertsFile: string }> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const alertsFile = join(RESULTS_DIR, `${name}-alerts.jsonl`);
  await rm(alertsFile, { force: true });
  const warnings: string[] = [];
  const pipeline = await startPipeline({
    port: 0,
    log: (line) => {
      // The pipeline's own lines (poller retries, failures) are kept for the report, not printed.
      if (warnings.length < 20) warnings.push(line);
    },
    // The real file sink, without its one console line per alert.
    publisher: fileAlertSink(alertsFile, () => {}),
    ...opts,
  });
  return { pipeline, alertsFile };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function report(budgets: BudgetResult[]): { budgets: BudgetResult[] } {
  console.log('');
  for (const b of budgets) console.log(`${b.pass ? 'PASS' : 'FAIL'}  ${b.budget}: ${b.measured}`);
  return { budgets };
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export const ms = (x: number): string => `${x.toFixed(1)} ms`;

/**
 * Runs a pipeline benchmark in a fresh Node process. The handlers read their configuration
 * (DYNAMODB_ENDPOINT, TABLE_NAME) once, at import: a second pipeline in the same process would
 * reuse the first one's modules, pointed at a DynamoDB Local that is gone. The child writes the
 * summary; its budgets come back from there.
 */
export async function inChildProcess(moduleUrl: string, name: string): Promise<{ budgets: BudgetResult[] }> {
  const path = join(RESULTS_DIR, `${name}.json`);
  await rm(path, { force: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(moduleUrl)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Powertools Metrics prints one EMF line per notify invocation: counted, not shown.
    let emf = 0;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{"_aws"')) emf++;
      else console.log(line);
    });
    child.once('error', reject);
    child.once('close', () => {
      if (emf > 0) console.log(`(${emf} EMF metric lines from the notify handler not shown)`);
    });
    child.once('close', (c) => resolve(c));
  });
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) throw new Error(`bench ${name} exited with ${code} and wrote no summary`);
  return { budgets: (JSON.parse(text) as { budgets: BudgetResult[] }).budgets };
}

/** True when this module is the process's entry point (the child of inChildProcess). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}

/** Entry point of a child: runs, then exits so no stray handle keeps it alive. */
export async function runAsMain(measure: () => Promise<unknown>): Promise<void> {
  try {
    await measure();
    process.exit(0);
  } catch (e: unknown) {
    console.error(e);
    process.exit(1);
  }
}
