// DynamoDB Local JVMs started ahead of the test files that need them. Each test file uses a JVM of its
// own (test/helpers/dynamo.ts says why); starting one takes about 3 s of the file's time. The vitest
// global setup keeps this pool: one JVM per worker is always starting or ready, so a file leases one
// that is up, and the next starts while the file runs. Files reach it over loopback HTTP (they run in
// other processes); the pool stops a JVM when its file releases it, and every JVM at teardown.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DynamoDbLocal, startDynamoDbLocal, TEST_JVM_OPTIONS } from '#local/dynamodb-local.ts';

export interface DynamoPool {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDynamoPool(spares: number): Promise<DynamoPool> {
  const ready: Promise<DynamoDbLocal>[] = [];
  const leased = new Map<number, DynamoDbLocal>();
  const start = () => {
    const starting = startDynamoDbLocal({ jvmOptions: TEST_JVM_OPTIONS });
    // A start that fails is reported to the file that leases it; never as an unhandled rejection.
    starting.catch(() => undefined);
    return starting;
  };
  const refill = () => {
    while (ready.length < spares) ready.push(start());
  };
  refill();

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://pool');
    if (req.method === 'POST' && url.pathname === '/lease') {
      const next = ready.shift() ?? start();
      refill();
      const local = await next;
      leased.set(local.port, local);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ port: local.port }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/release') {
      const port = Number(url.searchParams.get('port'));
      const local = leased.get(port);
      leased.delete(port);
      await local?.stop();
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const all = [
        ...leased.values(),
        ...(await Promise.allSettled(ready)).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
      ];
      await Promise.all(all.map((l) => l.stop()));
    },
  };
}

/** What a test file gets from the pool: a JVM that is up, and how to give it back. */
export async function leaseFromPool(poolUrl: string): Promise<DynamoDbLocal> {
  const res = await fetch(`${poolUrl}/lease`, { method: 'POST' });
  if (!res.ok) throw new Error(`DynamoDB Local pool: ${res.status} ${await res.text()}`);
  const { port } = (await res.json()) as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: -1,
    async stop() {
      await fetch(`${poolUrl}/release?port=${port}`, { method: 'POST' });
    },
  };
}
