// The whole keywatch pipeline on one machine: DynamoDB Local with the table, the shipped group pack,
// the HTTP API through the real handlers, the stream poller driving the evaluate and notify handlers,
// the alert sink (or SNS when ALERT_TOPIC_ARN is set), and the minute tick. Used by `npm start` and by
// the end-to-end tests.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SNSClient } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { type AlertPublisher, snsPublisher } from '#adapters/alert-publisher.ts';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import { seedShippedGroups } from '#core/group-pack.ts';
import { createNotifyHandler } from '#functions/notify/notify.ts';
import { fileAlertSink } from './alert-sink.ts';
import { createTable } from './create-table.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { type HttpHandler, startHttpServer } from './http-server.ts';
import { lambdaContext } from './lambda-context.ts';
import { type StreamConsumer, startStreamPoller } from './stream-poller.ts';

type StreamHandler = StreamConsumer['handler'];

export const LOCAL_TOPIC_ARN = 'arn:aws:sns:local:000000000000:keywatch-alerts';

export interface PipelineOptions {
  readonly port?: number;
  readonly secret?: string;
  readonly dataDir?: string;
  readonly alertsFile?: string;
  readonly topicArn?: string;
  /** Reuse a running DynamoDB Local (tests) instead of starting one. */
  readonly dynamodbEndpoint?: string;
  readonly tableName?: string;
  readonly tickMs?: number;
  readonly pollIntervalMs?: number;
  readonly log?: (line: string) => void;
  /** Publisher override (tests); defaults to SNS with a topic ARN, else the file sink. */
  readonly publisher?: AlertPublisher;
}

export interface Pipeline {
  readonly url: string;
  readonly secret: string;
  readonly secretGenerated: boolean;
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  readonly alerts: string;
  readonly dataDir: string | undefined;
  /** Resolves when the stream poller has nothing left to deliver. */
  drained(): Promise<void>;
  stop(): Promise<void>;
}

/** The local runtime's key for sealing ingest keys: `<dataDir>/seal.key`, else one per process. */
function localSealKey(dataDir: string | undefined): string {
  if (dataDir === undefined) return randomBytes(32).toString('base64');
  const file = join(dataDir, 'seal.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

export async function startPipeline(opts: PipelineOptions = {}): Promise<Pipeline> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const secretGenerated = opts.secret === undefined;
  const secret = opts.secret ?? randomBytes(24).toString('base64url');
  const tableName = opts.tableName ?? 'keywatch';
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`shutdown: ${String(e)}`));
  };
  try {
    let endpoint = opts.dynamodbEndpoint;
    if (endpoint === undefined) {
      const ddb: DynamoDbLocal = await startDynamoDbLocal({
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      });
      cleanups.push(() => ddb.stop());
      endpoint = ddb.endpoint;
    }
    // The handlers read their configuration from the environment exactly as on Lambda.
    process.env.DYNAMODB_ENDPOINT = endpoint;
    process.env.TABLE_NAME = tableName;
    process.env.KEYWATCH_SECRET = secret;
    // Ingest keys are sealed at rest (KMS on AWS); a kept data directory keeps its seal key beside it.
    process.env.KEYWATCH_SEAL_KEY ??= localSealKey(opts.dataDir);
    process.env.AWS_REGION ??= 'local';
    process.env.POWERTOOLS_SERVICE_NAME ??= 'keywatch';
    process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
    // CloudWatch EMF lines would flood the console; there is no CloudWatch here.
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    // One evaluator instance here: it reloads groups on the GROUP record, so fleet walks need no delay.
    process.env.FLEET_JOB_DELAY_MS ??= '0';

    const client = createDynamoClient(endpoint);
    await createTable(client, tableName);
    const groups = createGroupStore(documentClient(client), tableName);
    await seedShippedGroups(groups, new Date().toISOString());

    const [{ handler: ingest }, { handler: admin }, { handler: evaluate }] = await Promise.all([
      import('#functions/ingest/handler.ts'),
      import('#functions/admin/handler.ts'),
      import('#functions/evaluate/handler.ts'),
    ]);
    const topicArn = opts.topicArn ?? LOCAL_TOPIC_ARN;
    const sink =
      opts.publisher ?? (opts.topicArn ? snsPublisher(new SNSClient({})) : fileAlertSink(opts.alertsFile));
    const alerts = opts.topicArn
      ? `SNS ${opts.topicArn}`
      : ((sink as { path?: string }).path ?? 'custom publisher');
    const notify = createNotifyHandler({ publisher: sink, topicArn, table: { client, tableName } });

    const table = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const streamArn = table.Table?.LatestStreamArn;
    if (streamArn === undefined) throw new Error(`table ${tableName} has no stream`);
    const streams = new DynamoDBStreamsClient({
      endpoint,
      region: process.env.AWS_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const poller = startStreamPoller({
      client: streams,
      tableStreamArn: streamArn,
      pollIntervalMs: opts.pollIntervalMs ?? 250,
      // The evaluate function's timeout in the stack (infra/processing.ts).
      timeoutMs: 60_000,
      log,
      consumers: [
        {
          name: 'evaluate',
          filters: EVALUATE_FILTERS,
          batchSize: 100,
          handler: evaluate as unknown as StreamHandler,
        },
        { name: 'notify', filters: NOTIFY_FILTERS, batchSize: 10, handler: notify },
      ],
    });
    cleanups.push(() => poller.stop());

    const tick = setInterval(() => {
      void (evaluate as unknown as (e: unknown, c: Context) => Promise<unknown>)(
        { source: 'keywatch.tick' },
        lambdaContext('keywatch-evaluate'),
      ).catch((e: unknown) => log(`tick failed: ${String(e)}`));
    }, opts.tickMs ?? 60_000);
    cleanups.push(async () => clearInterval(tick));

    const http = await startHttpServer({
      port: opts.port ?? 3000,
      handlers: { ingest: ingest as unknown as HttpHandler, admin: admin as unknown as HttpHandler },
      log,
    });
    cleanups.push(() => http.close());

    return {
      url: http.url,
      secret,
      secretGenerated,
      dynamodbEndpoint: endpoint,
      tableName,
      alerts,
      dataDir: opts.dataDir,
      drained: () => poller.drained(),
      stop,
    };
  } catch (e: unknown) {
    await stop();
    throw e;
  }
}

export type { APIGatewayProxyEventV2 };
