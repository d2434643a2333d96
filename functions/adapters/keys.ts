// Single-table key design (README "Table design" documents it). Every item carries `type`; stream
// filters and the evaluator dispatch on it. `#` separates key parts: ids may not contain it.

export const ITEM = {
  company: 'COMPANY',
  site: 'SITE',
  endpoint: 'ENDPOINT',
  group: 'GROUP',
  member: 'MEMBER',
  transition: 'TRANSITION',
  job: 'JOB',
} as const;
export type ItemType = (typeof ITEM)[keyof typeof ITEM];

/** Writers stamped on endpoint items so the evaluator's stream filter can skip its own writes. */
export const WRITER = { ingest: 'ingest', evaluate: 'evaluate' } as const;

/** Number of GSI2 partitions the fleet is spread over, so a fleet scan never reads the whole table. */
export const FLEET_SHARDS = 16;

/** Prefix of custom-field attributes: each field is a top-level attribute `F#<name>`. */
export const FIELD_ATTR_PREFIX = 'F#';

export const INDEX = { byParent: 'GSI1', byCollection: 'GSI2' } as const;

export const keys = {
  company: (companyId: string) => ({ PK: `COMPANY#${companyId}`, SK: 'COMPANY' }),
  site: (companyId: string, siteId: string) => ({ PK: `COMPANY#${companyId}`, SK: `SITE#${siteId}` }),
  endpoint: (endpointId: string) => ({ PK: `ENDPOINT#${endpointId}`, SK: 'ENDPOINT' }),
  /** GSI1: endpoints of a company, of a site by prefix. */
  endpointByParent: (companyId: string, siteId: string, endpointId: string) => ({
    GSI1PK: `COMPANY#${companyId}`,
    GSI1SK: `SITE#${siteId}#ENDPOINT#${endpointId}`,
  }),
  companyEndpoints: (companyId: string) => `COMPANY#${companyId}`,
  siteEndpointsPrefix: (siteId: string) => `SITE#${siteId}#ENDPOINT#`,
  /** GSI2: the fleet, sharded. */
  endpointInFleet: (endpointId: string) => ({
    GSI2PK: `FLEET#${fleetShard(endpointId)}`,
    GSI2SK: endpointId,
  }),
  fleetShard: (shard: number) => `FLEET#${shard}`,
  group: (groupId: string) => ({ PK: `GROUP#${groupId}`, SK: 'GROUP' }),
  /** GSI2: every group definition. */
  groupInCollection: (groupId: string) => ({ GSI2PK: 'GROUPS', GSI2SK: groupId }),
  groupsCollection: 'GROUPS',
  member: (groupId: string, companyId: string, endpointId: string) => ({
    PK: `GROUP#${groupId}`,
    SK: `MEMBER#${companyId}#${endpointId}`,
  }),
  membersPrefix: (companyId?: string) => (companyId === undefined ? 'MEMBER#' : `MEMBER#${companyId}#`),
  /** Transitions live in their endpoint's partition (newest first by SK) and are indexed by group
   *  (GSI1) and globally (GSI2), both newest first. */
  transition: (endpointId: string, occurredAt: string, transitionId: string) => ({
    PK: `ENDPOINT#${endpointId}`,
    SK: `TRANSITION#${occurredAt}#${transitionId}`,
  }),
  transitionByGroup: (groupId: string, occurredAt: string, transitionId: string) => ({
    GSI1PK: `GROUP#${groupId}`,
    GSI1SK: `TRANSITION#${occurredAt}#${transitionId}`,
  }),
  transitionInCollection: (occurredAt: string, transitionId: string) => ({
    GSI2PK: 'TRANSITIONS',
    GSI2SK: `${occurredAt}#${transitionId}`,
  }),
  transitionsPrefix: 'TRANSITION#',
  transitionsCollection: 'TRANSITIONS',
  job: (jobId: string) => ({ PK: `JOB#${jobId}`, SK: 'JOB' }),
} as const;

/** Stable shard of an endpoint id (FNV-1a), so GSI2 spreads the fleet evenly. */
export function fleetShard(endpointId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < endpointId.length; i++) {
    h ^= endpointId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % FLEET_SHARDS;
}

/** The table's shape, shared by the CDK storage construct and the local table creator. */
export const TABLE_SCHEMA = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** Both GSIs project ALL: fan-out pages evaluate endpoints straight from GSI1 without reads. */
  indexes: [
    { name: INDEX.byParent, partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
    { name: INDEX.byCollection, partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
  ],
  ttlAttribute: 'expiresAt',
  streamView: 'NEW_AND_OLD_IMAGES',
} as const;
