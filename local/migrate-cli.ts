// `npm run migrate`: the one-off move of group member items from the single partition per group that
// versions before the group shards wrote to their shards (functions/adapters/member-migration.ts;
// decisions §27). Against AWS: `TABLE_NAME=<table> AWS_REGION=<region> npm run migrate` with the
// operator's credentials (docs/deploy.md, "Upgrading to sharded group members"). Locally it finds a
// running `npm start` (.keywatch/local.json), or starts DynamoDB Local on KEYWATCH_DATA_DIR.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { migrateGroupMembers } from '#adapters/member-migration.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';

const USAGE = `usage: npm run migrate [-- --concurrency N]
  moves every group's pre-shard member items to their shards and deletes stale ones; safe to run
  while the pipeline runs, and again. Table: $TABLE_NAME on AWS (with DYNAMODB_ENDPOINT unset), else
  the running npm start's, else $KEYWATCH_DATA_DIR's DynamoDB Local`;

function runningInstance(): { dynamodbEndpoint?: string; tableName?: string } | undefined {
  try {
    return JSON.parse(readFileSync('.keywatch/local.json', 'utf8'));
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const concurrency = values.concurrency === undefined ? 8 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    console.error('--concurrency must be an integer from 1 to 64');
    return 2;
  }
  let endpoint = process.env.DYNAMODB_ENDPOINT || undefined;
  let tableName = process.env.TABLE_NAME || undefined;
  let stopDb: (() => Promise<void>) | undefined;
  if (tableName === undefined) {
    const instance = runningInstance();
    const dataDir = process.env.KEYWATCH_DATA_DIR || undefined;
    tableName = instance?.tableName ?? 'keywatch';
    endpoint = instance?.dynamodbEndpoint;
    if (endpoint === undefined) {
      if (dataDir === undefined) {
        console.error('no TABLE_NAME, no running `npm start` and no KEYWATCH_DATA_DIR: nothing to migrate');
        return 1;
      }
      const db = await startDynamoDbLocal({ dataDir });
      endpoint = db.endpoint;
      stopDb = () => db.stop();
    }
  }
  const client = createDynamoClient(endpoint);
  try {
    const doc = documentClient(client);
    const groups = await createGroupStore(doc, tableName).list();
    const ids = groups.map((g) => g.definition.id);
    const result = await migrateGroupMembers(doc, tableName, ids, {
      concurrency,
      log: (line) => console.log(line),
    });
    console.log(
      `${ids.length} groups: ${result.moved} member items moved to their shards, ${result.removed} stale ones deleted, ${result.left} left${result.left > 0 ? ' (run again)' : ''}`,
    );
    return result.left > 0 ? 1 : 0;
  } finally {
    client.destroy();
    await stopDb?.();
  }
}

process.exitCode = await main().catch((e: unknown) => {
  console.error(`migrate failed: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
});
