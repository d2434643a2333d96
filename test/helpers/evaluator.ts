// A harness for evaluator tests: real table, real stream batches, evaluator instances with their own
// clients and group caches (like separate warm Lambda instances).
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { expect } from 'vitest';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore, type GroupStore } from '#adapters/group-store.ts';
import { createJobStore } from '#adapters/job-store.ts';
import { INDEX, keys, partitionQuery } from '#adapters/keys.ts';
import { createMembershipWriter } from '#adapters/membership-writer.ts';
import { createRepository } from '#adapters/repository.ts';
import { EVALUATE_FILTERS } from '#adapters/stream-filters.ts';
import { createTallyStore } from '#adapters/tally-store.ts';
import type { Catalogue } from '#core/catalogue.ts';
import type { StatusUpdate } from '#core/endpoint.ts';
import { seedShippedGroups } from '#core/group-pack.ts';
import { instantKey } from '#core/instant.ts';
import { createEvaluateHandler } from '#functions/evaluate/app.ts';
import { createEvaluator, type EvaluatorConfig } from '#functions/evaluate/evaluate.ts';
import type { JobStore, MembershipWriter } from '#functions/evaluate/ports.ts';
import { faultError } from '#local/faults.ts';
import { lambdaContext } from '#local/lambda-context.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { freshTable } from './dynamo.ts';
import { countRequests } from './request-counter.ts';
import { batchOf, streamReader } from './stream.ts';

/**
 * A fresh table with the shipped groups, a stream reader, and evaluator "instances" driven by real
 * stream batches. `now` is the tests' clock; times passed as seconds are offsets from it.
 */
export async function evaluatorHarness(opts: {
  now: () => number;
  config?: Partial<EvaluatorConfig>;
  /** Custom fields to store beside the shipped ones, as a catalogue (its built-ins are ignored). */
  catalogue?: Catalogue;
  /** Keep the status page's counters from delivered transition records, as deployed. */
  tally?: boolean;
}) {
  const at = (offsetSeconds: number) => new Date(opts.now() + offsetSeconds * 1000).toISOString();
  const { client: admin, tableName, endpoint } = await freshTable();
  const adminDoc = documentClient(admin);
  const repo = createRepository(adminDoc, tableName);
  const groups = createGroupStore(adminDoc, tableName);
  await seedShippedGroups(groups, at(0));
  // The catalogue is data: the given catalogue's custom fields are stored beside the shipped ones.
  for (const f of opts.catalogue?.fields ?? [])
    if (f.builtIn === undefined) await groups.putFieldIfAbsent(f, at(0));
  const logger = new Logger({
    serviceName: 'keywatch-test',
    logLevel: (process.env.TEST_LOG_LEVEL ?? 'SILENT') as 'SILENT',
  });

  /** One evaluator "instance": its own client and its own group cache, like one warm Lambda. */
  const instance = (
    over: {
      groups?: (store: GroupStore) => GroupStore;
      writer?: (writer: MembershipWriter) => MembershipWriter;
      jobs?: (jobs: JobStore) => JobStore;
      sleep?: (ms: number) => Promise<void>;
    } = {},
  ) => {
    const evalClient: DynamoDBClient = createDynamoClient(endpoint);
    // Requests of this instance alone, counted at the SDK boundary.
    const requests = countRequests(evalClient);
    const evalDoc = documentClient(evalClient);
    const groupStore = createGroupStore(evalDoc, tableName);
    const writer = createMembershipWriter(evalDoc, tableName);
    const evaluator = createEvaluator({
      groups: over.groups ? over.groups(groupStore) : groupStore,
      endpoints: createRepository(evalDoc, tableName),
      fleet: createFleetPager(evalDoc, tableName),
      writer: over.writer ? over.writer(writer) : writer,
      jobs: over.jobs ? over.jobs(createJobStore(evalDoc, tableName)) : createJobStore(evalDoc, tableName),
      nowMs: opts.now,
      logger,
      sleep: over.sleep ?? (async () => undefined),
      // Four fleet segments, not sixteen: every fleet walk still splits, and the shipped groups'
      // walks at setup stay cheap on a shared machine.
      config: { groupCacheMs: 5_000, pageSize: 50, fleetSegments: 4, ...opts.config },
    });
    const handler = createEvaluateHandler({
      evaluator,
      logger,
      ...(opts.tally === true ? { tally: createTallyStore(evalDoc, tableName) } : {}),
    });
    /** One invocation with these records (filtered as deployed); `replay`: an operator's replay. */
    const deliver = async (records: DynamoDBRecord[], opts: { replay?: boolean } = {}) => {
      const event = batchOf(records, EVALUATE_FILTERS);
      if (event.Records.length === 0) return { batchItemFailures: [] };
      return handler(
        opts.replay === true ? { ...event, keywatchReplay: true } : event,
        lambdaContext('keywatch-evaluate'),
      );
    };
    return { evaluator, deliver, requests };
  };

  const main = instance();
  const stream = await streamReader(admin, tableName, endpoint);
  /** Delivers stream records until the stream is quiet (jobs write follow-up records). */
  const settle = async (via = main) => {
    for (let round = 0; round < 400; round++) {
      const records = await stream.next();
      if (records.length === 0) return;
      const res = await via.deliver(records);
      expect(res?.batchItemFailures ?? []).toEqual([]);
    }
    throw new Error('stream did not settle');
  };
  const report = (
    id: string,
    seconds: number,
    fields: Record<string, unknown>,
    extra: Partial<StatusUpdate> = {},
    clear: string[] = [],
  ) =>
    repo.writeReport(
      {
        endpointId: id,
        companyId: 'contoso',
        siteId: 'hq',
        observedAt: at(seconds),
        observedAtMs: opts.now() + seconds * 1000,
        observedKey: instantKey(at(seconds)) ?? '',
        hostname: id,
        osType: 'Windows',
        endpointType: 'Laptop',
        fields: { set: fields as Record<string, string>, clear },
        ...extra,
      },
      at(seconds),
    );
  /** A group's transitions (GSI1), from each of its partitions (keys.groupPartitions), oldest first. */
  const transitions = async (groupId: string) => {
    const parts = await Promise.all(
      keys.groupPartitions(groupId).map(async (partition) => {
        const out = await adminDoc.send(
          new QueryCommand({
            TableName: tableName,
            ...partitionQuery({ index: INDEX.byParent, partition, sortPrefix: keys.transitionsPrefix }),
          }),
        );
        return out.Items ?? [];
      }),
    );
    return parts.flat().sort((a, b) => (String(a.GSI1SK) < String(b.GSI1SK) ? -1 : 1));
  };
  /** Member items of a group, as `<companyId>/<endpointId>`, from each of its partitions. */
  const memberItems = async (groupId: string) => {
    const parts = await Promise.all(
      keys.groupPartitions(groupId).map(async (partition) => {
        const out = await adminDoc.send(
          new QueryCommand({
            TableName: tableName,
            ...partitionQuery({ partition, sortPrefix: keys.membersPrefix() }),
            ConsistentRead: true,
          }),
        );
        return out.Items ?? [];
      }),
    );
    return parts
      .flat()
      .map((i) => `${i.companyId}/${i.endpointId}`)
      .sort();
  };
  const groupsOf = async (id: string) => Object.keys((await repo.getEndpoint(id, true))?.groups ?? {}).sort();
  const setCompany = (companyId: string, fields: Record<string, unknown>, seconds: number) =>
    repo.upsertScope(
      { companyId },
      undefined,
      {
        set: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as Record<
          string,
          string
        >,
        clear: Object.entries(fields)
          .filter(([, v]) => v === null)
          .map(([k]) => k),
      },
      at(seconds),
    );
  return {
    at,
    doc: adminDoc,
    tableName,
    repo,
    groups,
    stream,
    main,
    instance,
    deliver: main.deliver,
    evaluator: main.evaluator,
    requests: main.requests,
    settle,
    report,
    transitions,
    memberItems,
    groupsOf,
    setCompany,
  };
}

export type EvaluatorHarness = Awaited<ReturnType<typeof evaluatorHarness>>;

/** A group's recorded transitions as sorted `endpoint event` lines. */
export const transitionEvents = async (t: EvaluatorHarness, groupId: string) =>
  (await t.transitions(groupId)).map((i) => `${i.endpointId} ${i.event}`).sort();

/** The endpoint records of a stream page (reports and walk requests). */
export const endpointRecords = (records: DynamoDBRecord[]) =>
  records.filter((r) => r.dynamodb?.NewImage?.type?.S === 'ENDPOINT');

/**
 * A harness with one FAILED report waiting in the stream, and an evaluator instance whose membership
 * writes are always throttled: delivered to it, the report's batch exhausts its retries and is parked.
 */
export async function harnessWithUnwritableReport(now: () => number) {
  const t = await evaluatorHarness({ now });
  await t.settle();
  await t.report('LAPTOP-1', 1, { 'BitLocker Key Backup Status': SCRIPT_OUTPUT.failed });
  const records = await t.stream.next();
  const broken = t.instance({
    writer: (w) => ({
      ...w,
      apply: async () => {
        throw faultError('dynamodb', 'throttle', 'TransactWriteItemsCommand');
      },
    }),
  });
  return { t, records, broken };
}
