// `npm run replay`: re-drives the stream batches parked in the local on-failure file through the real
// evaluate and notify handlers (local/replay.ts), then leaves in the file only what failed again.
// Works against a running `npm start` (found through .keywatch/local.json) or, when none runs, a
// DynamoDB Local started on KEYWATCH_DATA_DIR. On AWS the parked batches are messages in the stack's
// SQS on-failure queues: `npm run replay -- --aws --stack NAME` replays them (local/aws-replay-cli.ts;
// docs/deploy.md, "Replaying parked batches").
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { snsPublisher } from '#adapters/alert-publisher.ts';
import { createDynamoClient } from '#adapters/clients.ts';
import { fileAlertSink } from './alert-sink.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { localFunctions } from './functions.ts';
import { type OnFailureMessage, onFailureMessage, readParked, writeParked } from './parking.ts';
import { streamConsumers } from './pipeline.ts';
import { replayBatches } from './replay.ts';

const USAGE = `usage: npm run replay [-- --file PATH] [--keep]
  re-drives the stream batches parked in PATH (default: the running npm start's, else
  $KEYWATCH_DATA_DIR/parked.jsonl, else .keywatch/parked.jsonl) through evaluate and notify;
  --keep leaves the file as it was (replaying again is harmless: it records and alerts nothing twice)
       npm run replay -- --aws --stack NAME [...]
  replays a deployed stack's SQS on-failure queues instead (npm run replay -- --aws --help)`;

interface LocalInstance {
  readonly dynamodbEndpoint?: string;
  readonly tableName?: string;
  readonly parkedFile?: string;
}

function runningInstance(): LocalInstance | undefined {
  try {
    return JSON.parse(readFileSync('.keywatch/local.json', 'utf8')) as LocalInstance;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { file: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dataDir = process.env.KEYWATCH_DATA_DIR || undefined;
  const instance = runningInstance();
  const file = values.file ?? instance?.parkedFile ?? join(dataDir ?? '.keywatch', 'parked.jsonl');
  const messages = readParked(file);
  if (messages.length === 0) {
    console.log(`nothing parked in ${file}`);
    return 0;
  }

  let endpoint = instance?.dynamodbEndpoint;
  let stopDb: (() => Promise<void>) | undefined;
  if (endpoint === undefined) {
    if (dataDir === undefined) {
      console.error(
        'no running `npm start` (.keywatch/local.json) and no KEYWATCH_DATA_DIR: nowhere to replay to',
      );
      return 1;
    }
    const db = await startDynamoDbLocal({ dataDir });
    endpoint = db.endpoint;
    stopDb = () => db.stop();
  }
  const client = createDynamoClient(endpoint);
  const streams = new DynamoDBStreamsClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const topicArn = process.env.ALERT_TOPIC_ARN;
    const fns = localFunctions({
      client,
      tableName: instance?.tableName ?? 'keywatch',
      // Only evaluate and notify run here; the API functions are built but never called.
      secret: randomBytes(24).toString('base64url'),
      sealKey: randomBytes(32),
      publisher: topicArn
        ? snsPublisher((sns) => new sns.SNSClient({ region: topicArn.split(':')[3] }))
        : fileAlertSink(process.env.KEYWATCH_ALERTS_FILE || '.keywatch/alerts.jsonl'),
      topicArn: topicArn ?? 'arn:aws:sns:local:000000000000:keywatch-alerts',
      logLevel: 'WARN',
    });
    const again: OnFailureMessage[] = [];
    const results = await replayBatches(messages, {
      streams,
      consumers: streamConsumers(fns),
      onFailedBatch: (failure) =>
        again.push(onFailureMessage(failure, `replay-${process.pid}-${again.length + 1}`)),
      log: (line) => console.log(line),
    });
    const count = (o: string) => results.filter((r) => r.outcome === o).length;
    console.log(
      `${count('replayed')} of ${messages.length} parked batches replayed; ${count('failed-again')} failed again ` +
        `(parked again), ${count('expired')} no longer in the stream, ${count('unknown-consumer')} for no known consumer`,
    );
    if (!values.keep) {
      // Keep what could not be replayed, and whatever a running `npm start` parked meanwhile.
      const handled = new Set(messages.map((m) => m.requestContext.requestId));
      const since = readParked(file).filter((m) => !handled.has(m.requestContext.requestId));
      const unknown = results.filter((r) => r.outcome === 'unknown-consumer').map((r) => r.message);
      writeParked(file, [...unknown, ...again, ...since]);
      const done = results.filter((r) => r.outcome === 'replayed' || r.outcome === 'expired');
      for (const r of done)
        appendFileSync(`${file}.done`, `${JSON.stringify({ outcome: r.outcome, ...r.message })}\n`);
      console.log(
        `${file} now holds ${unknown.length + again.length + since.length}; replayed ones are listed in ${file}.done`,
      );
    }
    return count('failed-again') > 0 ? 1 : 0;
  } finally {
    client.destroy();
    streams.destroy();
    await stopDb?.();
  }
}

// The AWS mode is loaded only when asked for: the local mode needs none of its clients.
const run = process.argv.includes('--aws')
  ? async () => (await import('./aws-replay-cli.ts')).main(process.argv.slice(2))
  : main;
process.exitCode = await run().catch((e: unknown) => {
  console.error(`replay failed: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
});
