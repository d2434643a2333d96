// DynamoDB Local for `npm start` and the integration tests: started on a free port from the cached
// download (dynamodb-local-install.ts), and never left running after its parent process is gone.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ensureDynamoDbLocal, JAR } from './dynamodb-local-install.ts';

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;
const JAVA_REQUIRED =
  'Java 17+ is required to run DynamoDB Local, e.g. `sudo apt-get install -y openjdk-17-jre-headless`';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The JVM's pid. */
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Fixed port; by default the OS picks a free one. */
  port?: number;
  /** Persist tables in this directory (created if missing); by default the data lives in memory. */
  dataDir?: string;
  /** Receives every line DynamoDB Local prints. */
  log?: (line: string) => void;
  /** The java command; defaults to env KEYWATCH_JAVA, then `java` on PATH. */
  java?: string;
  /** Options for the JVM itself, before `-jar` (the tests' short-lived JVMs use TEST_JVM_OPTIONS). */
  jvmOptions?: readonly string[];
}

/**
 * For JVMs that live one test file: the client compiler only, the serial collector, one compiler
 * thread. A JVM that never warms up spends its CPU on the server compiler and parallel GC threads
 * instead, which on a 2-core machine the tests are waiting for: three evaluator test files took 73 s
 * with the defaults and 53 s with these (decisions §14).
 */
export const TEST_JVM_OPTIONS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-XX:CICompilerCount=1',
  '-XX:-UsePerfData',
  '-Xms64m',
] as const;

function checkJava(java: string): void {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`${JAVA_REQUIRED} (could not run \`${java} -version\`)`);
  }
  // `openjdk version "17.0.15"`, or `"1.8.0_392"` for Java 8.
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr + r.stdout);
  const major = m === null ? undefined : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (major !== undefined && major < 17) {
    throw new Error(`${JAVA_REQUIRED} (found Java ${major} at \`${java}\`)`);
  }
}

/** A port the OS reports free on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not obtain a free port'))));
    });
  });
}

// Runs beside the JVM with a pipe from this process as stdin. The kernel closes the pipe when this
// process dies, however it dies (SIGKILL included), so `read` returns and the JVM is stopped.
const WATCHDOG = [
  'read -r _ || true',
  'kill -TERM "$1" 2>/dev/null || exit 0',
  'i=0; while [ $i -lt 30 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
  'kill -KILL "$1" 2>/dev/null || true',
].join('\n');

const running = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = () => {
    for (const child of running) child.kill('SIGTERM');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      // Another listener shuts down in its own order (npm start lets in-flight batches finish
      // before it stops DynamoDB Local); the exit hook and the watchdog still see the JVM end.
      if (process.listenerCount(signal) > 1) return;
      killAll();
      // Alone on this signal we would swallow it; restore the default so the process still ends.
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

class EarlyExitError extends Error {
  override name = 'EarlyExitError';
  readonly output: string;
  constructor(message: string, output: string) {
    super(message);
    this.output = output;
  }
}

/** Starts DynamoDB Local and resolves once it answers ListTables. */
export async function startDynamoDbLocal(opts: StartOptions = {}): Promise<DynamoDbLocal> {
  const java = opts.java ?? process.env.KEYWATCH_JAVA ?? 'java';
  checkJava(java);
  const dir = await ensureDynamoDbLocal();
  if (opts.dataDir !== undefined) await mkdir(opts.dataDir, { recursive: true });
  // A port picked by the OS may be taken again before the JVM binds it: pick another and retry.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(java, dir, port, opts);
    } catch (e: unknown) {
      const retry = opts.port === undefined && attempt < 3 && e instanceof EarlyExitError;
      if (!retry || !/BindException|already in use/i.test(e.output)) throw e;
    }
  }
}

async function launch(java: string, dir: string, port: number, opts: StartOptions): Promise<DynamoDbLocal> {
  const storage = opts.dataDir === undefined ? ['-inMemory'] : ['-dbPath', opts.dataDir, '-sharedDb'];
  const args = [
    ...(opts.jvmOptions ?? []),
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, JAR),
    '-disableTelemetry',
    '-port',
    String(port),
    ...storage,
  ];
  const jvm = spawn(java, args, {
    cwd: dir,
    env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawned = new Promise<void>((resolve, reject) => {
    jvm.once('spawn', resolve);
    jvm.once('error', reject);
  });
  await spawned;
  const pid = jvm.pid!;
  running.add(jvm);
  installExitHooks();

  const watchdog = spawn('sh', ['-c', WATCHDOG, 'keywatch-dynamodb-watchdog', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  // The pipe's write end must not keep this process's event loop alive.
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  const tail: string[] = [];
  for (const stream of [jvm.stdout, jvm.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      opts.log?.(line);
    });
  }
  const exited = new Promise<void>((resolve) => {
    jvm.once('exit', () => {
      running.delete(jvm);
      // The JVM is gone: the watchdog must not signal a pid the OS may hand to someone else.
      watchdog.kill('SIGKILL');
      resolve();
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const stop = async (): Promise<void> => {
    if (!hasExited) {
      jvm.kill('SIGTERM');
      const timer = setTimeout(() => jvm.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (hasExited) {
        const output = tail.join('\n');
        throw new EarlyExitError(
          `DynamoDB Local exited with code ${jvm.exitCode ?? jvm.signalCode} before it was ready:\n${output}`,
          output,
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        break;
      } catch {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000}s:\n${tail.join('\n')}`,
          );
        }
        await Promise.race([sleep(50), exited]);
      }
    }
  } catch (e: unknown) {
    await stop();
    throw e;
  } finally {
    client.destroy();
  }
  return { endpoint, port, pid, stop };
}
