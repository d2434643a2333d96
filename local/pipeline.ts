// The whole keywatch pipeline on one machine: DynamoDB Local with the table, the shipped group pack,
// the HTTP API through the real handlers, the stream poller driving the evaluate and notify handlers,
// the alert sink (or SNS when ALERT_TOPIC_ARN is set), and the minute tick. Used by `npm start` and by
// the end-to-end tests.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { type AlertPublisher, snsPublisher } from '#adapters/alert-publisher.ts';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { seedShippedGroups } from '#core/group-pack.ts';
import { STREAM_CONSUMERS, TICK } from '#infra/stream-settings.ts';
import { fileAlertSink } from './alert-sink.ts';
import { createTable } from './create-table.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.ts';
import { type FaultInjector, withFaults, withPublishFaults } from './faults.ts';
import { type LocalFunctions, type LocalFunctionsConfig, localFunctions } from './functions.ts';
import { startHttpServer } from './http-server.ts';
import { lambdaContext } from './lambda-context.ts';
import { fileParking, type ParkingLot } from './parking.ts';
import { fileCheckpoints } from './stream-checkpoints.ts';
import { type StreamConsumer, startStreamPoller } from './stream-poller.ts';

export const LOCAL_TOPIC_ARN = 'arn:aws:sns:local:000000000000:keywatch-alerts';

export interface PipelineOptions {
  readonly port?: number;
  readonly secret?: string;
  readonly dataDir?: string;
  /** 32 bytes sealing ingest keys at rest (KMS does this on AWS); default: see localSealKey. */
  readonly sealKey?: Buffer;
  readonly alertsFile?: string;
  readonly topicArn?: string;
  /** Reuse a running DynamoDB Local (tests) instead of starting one. */
  readonly dynamodbEndpoint?: string;
  readonly tableName?: string;
  readonly tickMs?: number;
  readonly pollIntervalMs?: number;
  /** First retry delay of a failed stream batch (default 100 ms, doubling up to 2 s). */
  readonly retryBackoffMs?: number;
  /** The functions' Powertools log level (default WARN: the console is for the summary lines). */
  readonly logLevel?: LocalFunctionsConfig['logLevel'];
  readonly log?: (line: string) => void;
  /** The status page's build to serve at / (npm start: web/dist). */
  readonly staticDir?: string;
  /** Publisher override (tests); defaults to SNS with a topic ARN, else the file sink. */
  readonly publisher?: AlertPublisher;
  /** Segments a fleet walk is split into (benchmarks); default as deployed. */
  readonly fleetSegments?: number;
  /** Fails a fraction of the functions' DynamoDB and SNS calls (KEYWATCH_FAULTS, local/faults.ts). */
  readonly faults?: FaultInjector;
  /** The local on-failure destination (default `<dataDir>/parked.jsonl`, else `.keywatch/parked.jsonl`). */
  readonly parkedFile?: string;
  /** Told of every stream delivery and its answer (benchmarks trace records with it). */
  readonly onDelivery?: (consumer: string, event: DynamoDBStreamEvent, answer: unknown) => void;
}

export interface Pipeline {
  readonly url: string;
  readonly secret: string;
  readonly secretGenerated: boolean;
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  readonly alerts: string;
  readonly dataDir: string | undefined;
  readonly streamArn: string;
  /** Where batches given up are parked, and how many this process parked. */
  readonly parking: ParkingLot;
  /** The functions as the poller invokes them (replay drives them with parked batches). */
  readonly functions: LocalFunctions;
  /** Resolves when the stream poller has nothing left to deliver. */
  drained(): Promise<void>;
  stop(): Promise<void>;
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
    const client = createDynamoClient(endpoint);
    cleanups.push(async () => client.destroy());
    await createTable(client, tableName);
    await seedGroupPack(client, tableName);

    const topicArn = opts.topicArn ?? LOCAL_TOPIC_ARN;
    const viaSns = opts.publisher === undefined && opts.topicArn !== undefined;
    const sink =
      opts.publisher ??
      (opts.topicArn ? snsAlerts(opts.topicArn, opts.faults) : fileAlertSink(opts.alertsFile));
    const alerts = opts.topicArn
      ? `SNS ${opts.topicArn}`
      : ((sink as { path?: string }).path ?? 'custom publisher');
    // The functions get a client of their own, so that set-up and seeding never meet injected faults.
    const functionsClient = opts.faults
      ? withFaults(createDynamoClient(endpoint), opts.faults, 'dynamodb')
      : client;
    if (functionsClient !== client) cleanups.push(async () => functionsClient.destroy());
    const fns = localFunctions({
      client: functionsClient,
      tableName,
      secret,
      // Ingest keys are sealed at rest (KMS on AWS); a kept data directory keeps its seal key beside it.
      sealKey: opts.sealKey ?? localSealKey(opts.dataDir),
      // Through SNS the client carries the faults; the file sink (or a given publisher) is wrapped.
      publisher: opts.faults && !viaSns ? withPublishFaults(sink, opts.faults) : sink,
      topicArn,
      logLevel: opts.logLevel ?? 'WARN',
      ...(opts.fleetSegments === undefined ? {} : { fleetSegments: opts.fleetSegments }),
    });

    const streams = localClient(DynamoDBStreamsClient, endpoint);
    cleanups.push(async () => streams.destroy());
    const streamArn = await streamArnOf(client, tableName);
    const parking = fileParking(opts.parkedFile ?? join(opts.dataDir ?? '.keywatch', 'parked.jsonl'));
    const poller = startStreamPoller({
      client: streams,
      tableStreamArn: streamArn,
      // A kept data directory keeps the consumers' positions too: a restart resumes, it does not replay.
      ...(opts.dataDir
        ? { checkpoints: fileCheckpoints(join(opts.dataDir, 'stream-checkpoints.json'), streamArn) }
        : {}),
      pollIntervalMs: opts.pollIntervalMs ?? 250,
      ...(opts.retryBackoffMs === undefined ? {} : { retryBackoffMs: opts.retryBackoffMs }),
      log,
      consumers: observed(streamConsumers(fns), opts.onDelivery),
      // As Lambda sends a batch given up to the on-failure queue: parked, counted, replayable.
      onFailedBatch: (failure) => {
        parking.park(failure);
        log(
          `${failure.consumer}: batch of ${failure.records.length} given up (${failure.requestContext.condition}), ` +
            `parked in ${parking.path}; \`npm run replay\` re-drives it (${failure.error})`,
        );
      },
    });
    cleanups.push(() => poller.stop());

    const tickContext = () =>
      lambdaContext('keywatch-evaluate', STREAM_CONSUMERS.evaluate.timeoutSeconds * 1000);
    const tick = setInterval(
      () => {
        fns.evaluate(TICK.event, tickContext()).catch((e: unknown) => log(`tick failed: ${String(e)}`));
      },
      opts.tickMs ?? TICK.everySeconds * 1000,
    );
    cleanups.push(async () => clearInterval(tick));

    const http = await startHttpServer({
      port: opts.port ?? 3000,
      handlers: { ingest: fns.ingest, admin: fns.admin },
      log,
      ...(opts.staticDir === undefined ? {} : { staticDir: opts.staticDir }),
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
      streamArn,
      parking,
      functions: fns,
      drained: () => poller.drained(),
      stop,
    };
  } catch (e: unknown) {
    await stop();
    throw e;
  }
}

/** The consumers with their deliveries reported to `onDelivery` (a thrown error as the answer). */
function observed(consumers: StreamConsumer[], onDelivery: PipelineOptions['onDelivery']): StreamConsumer[] {
  if (onDelivery === undefined) return consumers;
  return consumers.map((c) => ({
    ...c,
    handler: async (event, context) => {
      try {
        const answer = await c.handler(event, context);
        onDelivery(c.name, event, answer);
        return answer;
      } catch (e: unknown) {
        onDelivery(c.name, event, e);
        throw e;
      }
    },
  }));
}

/** The poller's consumers: the stack's event source mappings (infra/stream-settings.ts) and the real handlers. */
export function streamConsumers(fns: Pick<LocalFunctions, 'evaluate' | 'notify'>): StreamConsumer[] {
  return [
    { name: 'evaluate', ...STREAM_CONSUMERS.evaluate, handler: fns.evaluate },
    { name: 'notify', ...STREAM_CONSUMERS.notify, handler: fns.notify },
  ];
}

async function seedGroupPack(client: DynamoDBClient, tableName: string): Promise<void> {
  await seedShippedGroups(createGroupStore(documentClient(client), tableName), new Date().toISOString());
}

/** Without a given key, ingest keys are sealed with `<dataDir>/seal.key`, else one per process. */
function localSealKey(dataDir: string | undefined): Buffer {
  if (dataDir === undefined) return randomBytes(32);
  const file = join(dataDir, 'seal.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

async function streamArnOf(client: DynamoDBClient, tableName: string): Promise<string> {
  const table = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = table.Table?.LatestStreamArn;
  if (streamArn === undefined) throw new Error(`table ${tableName} has no stream`);
  return streamArn;
}

/** Real SNS with the caller's AWS credentials, in the topic's own region. */
function snsAlerts(topicArn: string, faults?: FaultInjector): AlertPublisher {
  return snsPublisher((sns) => {
    const client = new sns.SNSClient({ region: topicArn.split(':')[3] });
    return faults ? withFaults(client, faults, 'sns') : client;
  });
}

function localClient<T>(Client: new (config: object) => T, endpoint: string): T {
  return new Client({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}
