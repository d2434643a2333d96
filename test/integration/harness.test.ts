import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '#adapters/clients.ts';
import { createTable } from '#local/create-table.ts';
import { type DynamoDbLocal, startDynamoDbLocal, TEST_JVM_OPTIONS } from '#local/dynamodb-local.ts';
import { freshTable } from '#test/helpers/dynamo.ts';

const harness = pathToFileURL(join(import.meta.dirname, '../../local/dynamodb-local.ts')).href;
const clients = pathToFileURL(join(import.meta.dirname, '../../functions/adapters/clients.ts')).href;

/** Alive means signalable and not a zombie waiting for a reaper. */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/.test(stat);
}

async function waitUntilDead(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await sleep(100);
  }
  return !(await isAlive(pid));
}

/** Runs an ES module snippet in a child Node (this Node, so type stripping applies). */
function node(script: string, env: NodeJS.ProcessEnv = process.env) {
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('startDynamoDbLocal', () => {
  const started: DynamoDbLocal[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((d) => d.stop()));
  });

  it('answers requests once started and leaves no JVM after stop', async () => {
    const ddb = await startDynamoDbLocal({ jvmOptions: TEST_JVM_OPTIONS });
    started.push(ddb);

    const client = createDynamoClient(ddb.endpoint);
    const tables = await client.send(new ListTablesCommand({}));
    client.destroy();
    await ddb.stop();

    expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
    expect(tables.TableNames).toEqual([]);
    expect(await isAlive(ddb.pid)).toBe(false);
  });

  it('keeps tables across restarts when given a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keywatch-ddb-data-'));
    try {
      const first = await startDynamoDbLocal({ dataDir: join(dataDir, 'db'), jvmOptions: TEST_JVM_OPTIONS });
      started.push(first);
      const client1 = createDynamoClient(first.endpoint);
      await createTable(client1, 'persisted');
      client1.destroy();
      await first.stop();

      const second = await startDynamoDbLocal({ dataDir: join(dataDir, 'db'), jvmOptions: TEST_JVM_OPTIONS });
      started.push(second);
      const client2 = createDynamoClient(second.endpoint);
      const tables = await client2.send(new ListTablesCommand({}));
      client2.destroy();

      expect(tables.TableNames).toEqual(['persisted']);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('names the Java package to install when java cannot be run', async () => {
    await expect(startDynamoDbLocal({ java: '/nonexistent/java' })).rejects.toThrow(
      /Java 17\+ is required.*sudo apt-get install -y openjdk-17-jre-headless/,
    );
  });

  it('takes the java command from KEYWATCH_JAVA', async () => {
    const child = node(
      `import { startDynamoDbLocal } from ${JSON.stringify(harness)};
       try { await startDynamoDbLocal(); console.log('started'); process.exit(0); }
       catch (e) { console.log(e.message); }`,
      { ...process.env, KEYWATCH_JAVA: 'keywatch-no-such-java' },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await new Promise((resolve) => child.once('exit', resolve));

    expect(out).toMatch(/Java 17\+ is required.*openjdk-17-jre-headless/);
  });

  it('keeps answering on SIGINT while the process shuts down in its own order, then leaves no JVM', async () => {
    const child = node(
      `import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
       import { createDynamoClient } from ${JSON.stringify(clients)};
       import { startDynamoDbLocal } from ${JSON.stringify(harness)};
       const ddb = await startDynamoDbLocal();
       process.on('SIGINT', async () => {
         await new Promise((resolve) => setTimeout(resolve, 300));
         const client = createDynamoClient(ddb.endpoint);
         const answered = await client.send(new ListTablesCommand({})).then(() => true, () => false);
         await ddb.stop();
         console.log(JSON.stringify({ answered }));
         process.exit(0);
       });
       console.log(JSON.stringify({ pid: ddb.pid }));`,
    );
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const { pid } = JSON.parse(String((await lines.next()).value)) as { pid: number };

    child.kill('SIGINT');
    const after = JSON.parse(String((await lines.next()).value)) as { answered: boolean };

    expect(after).toEqual({ answered: true });
    expect(await waitUntilDead(pid, 5_000)).toBe(true);
  });

  it('stops the JVM when its parent process is killed with SIGKILL', async () => {
    const child = node(
      `import { startDynamoDbLocal } from ${JSON.stringify(harness)};
       const ddb = await startDynamoDbLocal();
       console.log(JSON.stringify({ pid: ddb.pid }));`,
    );
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before starting`)));
    });
    const { pid } = JSON.parse(firstLine) as { pid: number };
    expect(await isAlive(pid)).toBe(true);

    child.kill('SIGKILL');

    expect(await waitUntilDead(pid, 5_000)).toBe(true);
  });
});

describe('createTable', () => {
  it('creates the keywatch table once, with its stream, its five GSIs and TTL', async () => {
    const { client, tableName } = await freshTable();

    await createTable(client, tableName);
    const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    client.destroy();

    expect(table?.TableStatus).toBe('ACTIVE');
    expect(table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(table?.LatestStreamArn).toBeTruthy();
    expect(table?.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    const indexes = (table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      name: index.IndexName,
      keys: index.KeySchema?.map((k) => k.AttributeName),
      projection: index.Projection?.ProjectionType,
    }));
    expect(indexes).toEqual(
      expect.arrayContaining([
        { name: 'GSI1', keys: ['GSI1PK', 'GSI1SK'], projection: 'ALL' },
        { name: 'GSI2', keys: ['GSI2PK', 'GSI2SK'], projection: 'ALL' },
        { name: 'GSI3', keys: ['GSI3PK', 'GSI3SK'], projection: 'KEYS_ONLY' },
        { name: 'GSI4', keys: ['GSI4PK', 'GSI4SK'], projection: 'KEYS_ONLY' },
        { name: 'GSI5', keys: ['GSI5PK', 'GSI5SK'], projection: 'KEYS_ONLY' },
      ]),
    );
    expect(indexes).toHaveLength(5);
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });
});
