// DynamoDB access for the API functions: conditional report writes (one request per update, no
// reads), company/site upserts and endpoint reads. Callers get domain records, never items.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, paginateQuery, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type EndpointRecord,
  isSameObservation,
  type Owner,
  type ReportResult,
  type ScopeRecord,
  type ScopeRef,
  type StatusUpdate,
  scopeKey,
} from '#core/endpoint.ts';
import type { FieldChanges } from '#core/fields.ts';
import type { RecordedChange } from '#core/late-states.ts';
import { batchGetAll } from './batch-get.ts';
import { endpointFromItem, type Item, scopeFromItem } from './items.ts';
import { FIELD_ATTR_PREFIX, ITEM, keys, partitionQuery, WRITER } from './keys.ts';

/** Builds SET / REMOVE clauses for custom fields with placeholder names that never collide. */
class UpdateBuilder {
  readonly sets: string[] = [];
  readonly removes: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;
  set(attr: string, value: unknown, expr?: (name: string, value: string) => string): this {
    const i = this.n++;
    this.names[`#a${i}`] = attr;
    this.values[`:v${i}`] = value;
    this.sets.push(expr ? expr(`#a${i}`, `:v${i}`) : `#a${i} = :v${i}`);
    return this;
  }
  remove(attr: string): this {
    const i = this.n++;
    this.names[`#a${i}`] = attr;
    this.removes.push(`#a${i}`);
    return this;
  }
  fields(changes: FieldChanges): this {
    for (const [name, value] of Object.entries(changes.set)) this.set(FIELD_ATTR_PREFIX + name, value);
    for (const name of changes.clear) this.remove(FIELD_ATTR_PREFIX + name);
    return this;
  }
  expression(): string {
    const parts = [`SET ${this.sets.join(', ')}`];
    if (this.removes.length > 0) parts.push(`REMOVE ${this.removes.join(', ')}`);
    return parts.join(' ');
  }
}

export type { ScopeRef };

function owns(owner: Owner, stored: EndpointRecord): boolean {
  return (
    stored.companyId === owner.companyId && (owner.siteId === undefined || stored.siteId === owner.siteId)
  );
}

export function createRepository(doc: DynamoDBDocumentClient, tableName: string) {
  return {
    /**
     * Applies a report when it is newer than what is stored, in one conditional UpdateItem. When the
     * condition fails, DynamoDB returns the stored item with the failure, which tells `unchanged`
     * from `stale` without a read. With an `owner` (an ingest key's scope) the endpoint must be new or
     * already stored under that company (and site): a key cannot take over another company's endpoint.
     */
    async writeReport(u: StatusUpdate, nowIso: string, owner?: Owner): Promise<ReportResult> {
      const b = new UpdateBuilder()
        .set('type', ITEM.endpoint)
        .set('endpointId', u.endpointId)
        .set('companyId', u.companyId)
        .set('siteId', u.siteId)
        .set('observedAt', u.observedAt)
        .set('observedAtMs', u.observedAtMs)
        .set('observedKey', u.observedKey)
        .set('writer', WRITER.ingest)
        .set('updatedAt', nowIso)
        .set('rev', 1, (n, v) => `${n} = if_not_exists(${n}, :zero) + ${v}`)
        .set('grev', 0, (n, v) => `${n} = if_not_exists(${n}, ${v})`)
        .set('mrev', 0, (n, v) => `${n} = if_not_exists(${n}, ${v})`)
        .set('groups', {}, (n, v) => `${n} = if_not_exists(${n}, ${v})`);
      const idx = {
        ...keys.endpointByParent(u.companyId, u.siteId, u.endpointId),
        ...keys.endpointInFleet(u.endpointId),
      };
      for (const [k, v] of Object.entries(idx)) b.set(k, v);
      if (u.hostname !== undefined) b.set('hostname', u.hostname);
      if (u.osType !== undefined) b.set('osType', u.osType);
      if (u.endpointType !== undefined) b.set('endpointType', u.endpointType);
      for (const [property, value] of Object.entries(u.properties ?? {})) b.set(property, value);
      b.fields(u.fields);
      const ownerValues: Record<string, string> = {};
      let ownership = '';
      if (owner !== undefined) {
        ownerValues[':ownerCompany'] = owner.companyId;
        ownership = ' AND (attribute_not_exists(PK) OR (companyId = :ownerCompany';
        if (owner.siteId !== undefined) {
          ownerValues[':ownerSite'] = owner.siteId;
          ownership += ' AND siteId = :ownerSite';
        }
        ownership += '))';
      }
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.endpoint(u.endpointId),
            UpdateExpression: b.expression(),
            // Items written before observedKey existed compare by milliseconds.
            ConditionExpression: `(attribute_not_exists(PK) OR observedKey < :key OR (attribute_not_exists(observedKey) AND observedAtMs < :obs))${ownership}`,
            ExpressionAttributeNames: b.names,
            ExpressionAttributeValues: {
              ...b.values,
              ':zero': 0,
              ':obs': u.observedAtMs,
              ':key': u.observedKey,
              ...ownerValues,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return 'applied';
      } catch (e: unknown) {
        if (e instanceof ConditionalCheckFailedException && e.Item) {
          const stored = endpointFromItem(unmarshall(e.Item));
          if (owner !== undefined && !owns(owner, stored)) return 'forbidden';
          return isSameObservation(u, stored) ? 'unchanged' : 'stale';
        }
        throw e;
      }
    },

    /** Upsert that merges: a name or field not mentioned is kept. Returns the stored record. */
    async upsertScope(scope: ScopeRef, name: string | undefined, changes: FieldChanges, nowIso: string) {
      const b = new UpdateBuilder()
        .set('type', scope.siteId === undefined ? ITEM.company : ITEM.site)
        .set('companyId', scope.companyId)
        .set('updatedAt', nowIso)
        .set('rev', 1, (n, v) => `${n} = if_not_exists(${n}, :zero) + ${v}`);
      if (scope.siteId !== undefined) b.set('siteId', scope.siteId);
      if (name !== undefined) b.set('name', name);
      b.fields(changes);
      const out = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key:
            scope.siteId === undefined
              ? keys.company(scope.companyId)
              : keys.site(scope.companyId, scope.siteId),
          UpdateExpression: b.expression(),
          ExpressionAttributeNames: b.names,
          ExpressionAttributeValues: { ...b.values, ':zero': 0 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = (out.Attributes ?? {}) as Item;
      return { record: scopeFromItem(item), updatedAt: String(item.updatedAt) };
    },

    async getEndpoint(endpointId: string, consistent = false): Promise<EndpointRecord | undefined> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.endpoint(endpointId), ConsistentRead: consistent }),
      );
      return out.Item ? endpointFromItem(out.Item) : undefined;
    },

    /**
     * Every transition recorded for an endpoint (its partition, read consistently), as much as a
     * replay needs to reconcile passed-over reports with the history. Only replays read it.
     */
    async endpointHistory(endpointId: string): Promise<(RecordedChange & { occurredAt: string })[]> {
      const out: (RecordedChange & { occurredAt: string })[] = [];
      const q = partitionQuery({
        partition: keys.endpoint(endpointId).PK,
        sortPrefix: keys.transitionsPrefix,
      });
      const pages = paginateQuery(
        { client: doc },
        {
          TableName: tableName,
          ConsistentRead: true,
          ...q,
          ProjectionExpression: 'groupId, #event, reportRev, occurredAt',
          ExpressionAttributeNames: { ...q.ExpressionAttributeNames, '#event': 'event' },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          out.push({
            groupId: String(item.groupId),
            event: item.event === 'entered' ? 'entered' : 'exited',
            reportRev: typeof item.reportRev === 'number' ? item.reportRev : null,
            occurredAt: String(item.occurredAt),
          });
        }
      }
      return out;
    },

    /** Company and site records in one BatchGetItem; absent ones are simply missing from the map. */
    /** Keyed by `scopeKey` (core). */
    async getScopes(refs: readonly ScopeRef[], consistent = false): Promise<Map<string, ScopeRecord>> {
      const wanted = new Map<string, Record<string, string>>();
      for (const r of refs) {
        wanted.set(
          scopeKey(r),
          r.siteId === undefined ? keys.company(r.companyId) : keys.site(r.companyId, r.siteId),
        );
      }
      const items = await batchGetAll(doc, tableName, [...wanted.values()], consistent);
      const found = new Map<string, ScopeRecord>();
      for (const item of items) {
        const record = scopeFromItem(item);
        found.set(scopeKey(record), record);
      }
      return found;
    },
  };
}

export type Repository = ReturnType<typeof createRepository>;
