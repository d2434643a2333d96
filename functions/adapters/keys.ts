// Single-table key design (README "Table design" documents it). Every item carries `type`; stream
// filters and the evaluator dispatch on it. `#` separates key parts: ids may not contain it.

export const ITEM = {
  company: 'COMPANY',
  site: 'SITE',
  endpoint: 'ENDPOINT',
  group: 'GROUP',
  field: 'FIELD',
  member: 'MEMBER',
  transition: 'TRANSITION',
  job: 'JOB',
  ingestKey: 'INGEST_KEY',
  tallyMarker: 'TALLY_MARKER',
  companyTally: 'COMPANY_TALLY',
} as const;
export type ItemType = (typeof ITEM)[keyof typeof ITEM];

/** Writers stamped on endpoint items so the evaluator's stream filter can skip its own writes. */
/**
 * Who wrote an endpoint item last, for the stream filters: reports (`ingest`) and re-evaluation
 * requests of fan-out walks (`walk`) are evaluated; the evaluator's own membership writes are not.
 */
export const WRITER = { ingest: 'ingest', evaluate: 'evaluate', walk: 'walk' } as const;

/** Number of GSI4 partitions the fleet is spread over, so a fleet scan never reads the whole table. */
export const FLEET_SHARDS = 16;

/**
 * Number of GSI2 partitions the fleet-wide transition list is written over. One partition takes about
 * 1,000 writes a second, and a group change over 1,000,000 endpoints in 10 minutes records up to
 * 1,700 transitions a second (docs/scale.md); eight give room for four times that.
 */
export const TRANSITION_SHARDS = 8;

/**
 * Number of partitions the per-company counters are spread over (by endpoint): a fan-out entering
 * one company's endpoints into Failed updates four counter items, not one, so concurrent tally
 * transactions rarely meet on an item (TransactionConflict). The summary reads all of them.
 */
export const TALLY_SHARDS = 4;

/**
 * Number of partitions a group's member items and its GSI1 transition list are each written over
 * (hashed by endpoint id, so one endpoint's member item and its transitions of that group share a
 * shard). A change moving the whole fleet into one group in 10 minutes writes 1,667 members a second
 * at 2 WRU each: over four partitions that is 833 WRU/s each, under the 1,000 a partition takes
 * (docs/scale.md section 2). Changing it moves every member key: it needs a migration of its own.
 */
export const GROUP_SHARDS = 4;

/** Prefix of custom-field attributes: each field is a top-level attribute `F#<name>`. */
export const FIELD_ATTR_PREFIX = 'F#';

/**
 * GSI1 and GSI2 index items written once (transitions) and project ALL. GSI3 and
 * GSI4 index endpoints, which every report rewrites: they project keys only, so a report that does not
 * move the endpoint writes no index (1 write unit instead of 3); fan-out pages read the items by key.
 * GSI5 is sparse and keys only: endpoints whose membership the clock alone can change, by the instant
 * it can (written by the evaluator only, never by a report).
 */
export const INDEX = {
  byParent: 'GSI1',
  byCollection: 'GSI2',
  endpointsByParent: 'GSI3',
  fleet: 'GSI4',
  due: 'GSI5',
} as const;

/** The table's shape, shared by the CDK storage construct and the local table creator. */
export const TABLE_SCHEMA = {
  partitionKey: 'PK',
  sortKey: 'SK',
  indexes: [
    { name: INDEX.byParent, partitionKey: 'GSI1PK', sortKey: 'GSI1SK', projection: 'ALL' },
    { name: INDEX.byCollection, partitionKey: 'GSI2PK', sortKey: 'GSI2SK', projection: 'ALL' },
    { name: INDEX.endpointsByParent, partitionKey: 'GSI3PK', sortKey: 'GSI3SK', projection: 'KEYS_ONLY' },
    { name: INDEX.fleet, partitionKey: 'GSI4PK', sortKey: 'GSI4SK', projection: 'KEYS_ONLY' },
    { name: INDEX.due, partitionKey: 'GSI5PK', sortKey: 'GSI5SK', projection: 'KEYS_ONLY' },
  ],
  ttlAttribute: 'expiresAt',
  streamView: 'NEW_AND_OLD_IMAGES',
} as const;

export type IndexName = (typeof INDEX)[keyof typeof INDEX];

const INDEXES = new Map<string, (typeof TABLE_SCHEMA.indexes)[number]>(
  TABLE_SCHEMA.indexes.map((i) => [i.name, i]),
);

/** The key attributes of an index, as the table schema names them. */
export function indexKeys(index: IndexName): { readonly partitionKey: string; readonly sortKey: string } {
  return INDEXES.get(index) as (typeof TABLE_SCHEMA.indexes)[number];
}

const gsi = (index: IndexName, partition: string, sort: string) => {
  const { partitionKey, sortKey } = indexKeys(index);
  return { [partitionKey]: partition, [sortKey]: sort };
};

/**
 * The key condition of a Query on one partition of the table (no `index`) or of an index, optionally
 * narrowed to sort keys with a prefix; attribute names come from the table schema.
 */
export function partitionQuery(target: { index?: IndexName; partition: string; sortPrefix?: string }) {
  const names = target.index === undefined ? TABLE_SCHEMA : indexKeys(target.index);
  const prefixed = target.sortPrefix !== undefined;
  return {
    ...(target.index === undefined ? {} : { IndexName: target.index }),
    KeyConditionExpression: prefixed ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
    ExpressionAttributeNames: { '#pk': names.partitionKey, ...(prefixed ? { '#sk': names.sortKey } : {}) },
    ExpressionAttributeValues: {
      ':pk': target.partition,
      ...(prefixed ? { ':prefix': target.sortPrefix } : {}),
    },
  };
}

/** The attributes of an item's key in the table or (with `index`) in an index as well. */
export function keyAttributes(index?: IndexName): string[] {
  const table = [TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey];
  if (index === undefined) return table;
  const { partitionKey, sortKey } = indexKeys(index);
  return [...table, partitionKey, sortKey];
}

export const keys = {
  company: (companyId: string) => ({ PK: `COMPANY#${companyId}`, SK: 'COMPANY' }),
  site: (companyId: string, siteId: string) => ({ PK: `COMPANY#${companyId}`, SK: `SITE#${siteId}` }),
  endpoint: (endpointId: string) => ({ PK: `ENDPOINT#${endpointId}`, SK: 'ENDPOINT' }),
  /** GSI3: endpoints of a company, of a site by prefix. */
  endpointByParent: (companyId: string, siteId: string, endpointId: string) =>
    gsi(INDEX.endpointsByParent, `COMPANY#${companyId}`, `SITE#${siteId}#ENDPOINT#${endpointId}`),
  companyEndpoints: (companyId: string) => `COMPANY#${companyId}`,
  siteEndpointsPrefix: (siteId: string) => `SITE#${siteId}#ENDPOINT#`,
  /** GSI4: the fleet, sharded. */
  endpointInFleet: (endpointId: string) => gsi(INDEX.fleet, `FLEET#${fleetShard(endpointId)}`, endpointId),
  fleetShard: (shard: number) => `FLEET#${shard}`,
  /**
   * GSI5: when the clock alone can next change the endpoint's membership, as ISO text to the
   * millisecond (fixed length up to year 9999, so it orders as a string), over the fleet's shards.
   */
  endpointDue: (endpointId: string, dueMs: number) =>
    gsi(INDEX.due, `DUE#${fleetShard(endpointId)}`, new Date(dueMs).toISOString()),
  dueShard: (shard: number) => `DUE#${shard}`,
  dueSortKey: (ms: number) => new Date(ms).toISOString(),
  /** Every group definition in one partition, so the evaluator lists them with a consistent Query. */
  group: (groupId: string) => ({ PK: 'GROUPS', SK: `GROUP#${groupId}` }),
  groupsPartition: 'GROUPS',
  /** Custom field definitions in one partition: read whole, consistently, with the group list. */
  field: (level: string, name: string) => ({ PK: 'FIELDS', SK: `FIELD#${level}#${name}` }),
  fieldsPartition: 'FIELDS',
  /**
   * The partitions of a group's member items and (GSI1) its transitions: GROUP_SHARDS shards
   * `GROUP#<g>#<s>`, hashed by endpoint, and first the one partition `GROUP#<g>` that versions before
   * the shards wrote (readers merge it until `npm run migrate` has emptied it; decisions §27).
   */
  groupPartitions: (groupId: string) => [`GROUP#${groupId}`, ...keys.groupShards(groupId)],
  /** The GROUP_SHARDS shards of a group alone (see groupPartitions). */
  groupShards: (groupId: string) => Array.from({ length: GROUP_SHARDS }, (_, s) => `GROUP#${groupId}#${s}`),
  /** The pre-shard partition of a group's members and transitions (see groupPartitions). */
  legacyGroupPartition: (groupId: string) => `GROUP#${groupId}`,
  /** The shard of a group an endpoint's member item and group transitions are written to. */
  groupShard: (groupId: string, endpointId: string) =>
    `GROUP#${groupId}#${hashShard(endpointId, GROUP_SHARDS)}`,
  /** The company part is case-folded: `?companyId=` matches ignoring case, like every id comparison. */
  member: (groupId: string, companyId: string, endpointId: string) => ({
    PK: `GROUP#${groupId}#${hashShard(endpointId, GROUP_SHARDS)}`,
    SK: `MEMBER#${companyId.toLowerCase()}#${endpointId}`,
  }),
  /** Where the same member item was stored before the shards (deleted with it until migrated). */
  legacyMember: (groupId: string, companyId: string, endpointId: string) => ({
    PK: `GROUP#${groupId}`,
    SK: `MEMBER#${companyId.toLowerCase()}#${endpointId}`,
  }),
  membersPrefix: (companyId?: string) =>
    companyId === undefined ? 'MEMBER#' : `MEMBER#${companyId.toLowerCase()}#`,
  /** Transitions live in their endpoint's partition (newest first by SK) and are indexed by group
   *  (GSI1, on the endpoint's group shard) and globally (GSI2), both newest first. */
  transition: (endpointId: string, occurredAt: string, transitionId: string) => ({
    PK: `ENDPOINT#${endpointId}`,
    SK: `TRANSITION#${occurredAt}#${transitionId}`,
  }),
  transitionByGroup: (groupId: string, endpointId: string, occurredAt: string, transitionId: string) =>
    gsi(
      INDEX.byParent,
      `GROUP#${groupId}#${hashShard(endpointId, GROUP_SHARDS)}`,
      `TRANSITION#${occurredAt}#${transitionId}`,
    ),
  /** GSI2, written over TRANSITION_SHARDS partitions (hashed by id); readers merge them. */
  transitionInCollection: (occurredAt: string, transitionId: string) =>
    gsi(
      INDEX.byCollection,
      `TRANSITIONS#${hashShard(transitionId, TRANSITION_SHARDS)}`,
      `${occurredAt}#${transitionId}`,
    ),
  transitionsPrefix: 'TRANSITION#',
  transitionsCollection: (shard: number) => `TRANSITIONS#${shard}`,
  job: (jobId: string) => ({ PK: `JOB#${jobId}`, SK: 'JOB' }),
  /** Ingest keys by id (authentication), and (GSI1) by company, oldest first (the key list). */
  ingestKey: (keyId: string) => ({ PK: `KEY#${keyId}`, SK: 'KEY' }),
  ingestKeyByCompany: (companyId: string, createdAt: string, keyId: string) => ({
    GSI1PK: `COMPANY#${companyId}`,
    GSI1SK: `KEY#${createdAt}#${keyId}`,
  }),
  companyKeysPartition: (companyId: string) => `COMPANY#${companyId}`,
  ingestKeysPrefix: 'KEY#',
  /** What an endpoint is counted as in the per-company counters (beside the endpoint, own item). */
  tallyMarker: (endpointId: string) => ({ PK: `ENDPOINT#${endpointId}`, SK: 'TALLY' }),
  /** A company's counters, one item per shard; company case-folded like member keys. */
  companyTally: (endpointId: string, companyId: string) => ({
    PK: `TALLY#${hashShard(endpointId, TALLY_SHARDS)}`,
    SK: `COMPANY#${companyId.toLowerCase()}`,
  }),
  tallyPartition: (shard: number) => `TALLY#${shard}`,
  /** The hourly not-reporting census: per company, and its run marker (SK `RUN`). */
  censusPartition: 'CENSUS',
  census: (companyId: string) => ({ PK: 'CENSUS', SK: `COMPANY#${companyId.toLowerCase()}` }),
  censusRun: { PK: 'CENSUS', SK: 'RUN' },
} as const;

/** Stable shard of an endpoint id (FNV-1a), so GSI4 spreads the fleet evenly. */
export function fleetShard(endpointId: string): number {
  return hashShard(endpointId, FLEET_SHARDS);
}

/** FNV-1a of a key, onto `shards` partitions. */
function hashShard(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/**
 * A consistent Query of the member items a group still has in its pre-shard partition `GROUP#<g>`
 * (the upgrade's leftovers: the writer checks for them, the migration moves them).
 */
export function legacyMembersQuery(groupId: string) {
  return {
    ...partitionQuery({ partition: keys.legacyGroupPartition(groupId), sortPrefix: keys.membersPrefix() }),
    ConsistentRead: true,
  };
}
