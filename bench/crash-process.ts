// `npm start` as a child process for the crash benchmark: in its own process group (npm, node, the
// DynamoDB Local JVM and its watchdog), so the whole pipeline can be killed at once as a power cut
// or an OOM kill would, and started again on the same data directory and alerts file.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_TIMEOUT_MS = 60_000;

export interface InstanceOptions {
  readonly dataDir: string;
  readonly alertsFile: string;
  readonly secret: string;
}

export interface Instance {
  readonly url: string;
  /** The process group id (npm's pid). */
  readonly pgid: number;
  /** Milliseconds from spawn to "keywatch is running". */
  readonly readyMs: number;
  /** Lines the instance printed (its ALERT summaries excepted), for a failure report. */
  readonly output: readonly string[];
  /** SIGKILL to the whole group; resolves when no process of it is left. */
  kill(): Promise<void>;
  /** SIGINT to the whole group, as Ctrl-C in a terminal; SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<number>();
process.on('exit', () => {
  // Whatever ends the benchmark, no pipeline of it keeps running.
  for (const pgid of live) signalGroup(pgid, 'SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: no process of the group is left
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (signalGroup(pgid, 0)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const port = await freePort();
  const started = performance.now();
  const child: ChildProcess = spawn('npm', ['start', '--silent'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      KEYWATCH_DATA_DIR: opts.dataDir,
      KEYWATCH_ALERTS_FILE: opts.alertsFile,
      KEYWATCH_SECRET: opts.secret,
    },
  });
  const pgid = child.pid;
  if (pgid === undefined) throw new Error('npm start did not spawn');
  live.add(pgid);
  const output: string[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('npm start not ready in time')), READY_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.startsWith('ALERT ')) return;
        output.push(line);
        const api = /^\s+API\s+(http:\/\/\S+)/.exec(line);
        if (api?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(api[1]);
        }
      });
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
  });
  const kill = async () => {
    signalGroup(pgid, 'SIGKILL');
    if (!(await groupGone(pgid, 10_000))) throw new Error(`process group ${pgid} survived SIGKILL`);
    live.delete(pgid);
  };
  let url: string;
  try {
    url = await ready;
  } catch (e: unknown) {
    await kill();
    throw e;
  }
  return {
    url,
    pgid,
    readyMs: performance.now() - started,
    output,
    kill,
    async stop(graceMs = 15_000) {
      signalGroup(pgid, 'SIGINT');
      if (!(await groupGone(pgid, graceMs))) await kill();
      live.delete(pgid);
    },
  };
}
