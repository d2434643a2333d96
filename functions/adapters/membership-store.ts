// The evaluator's writes: membership changes and their transitions in one transaction guarded by the
// endpoint's data and membership revisions (so a retried or redelivered evaluation can never record
// a transition twice), fan-out pages, and re-evaluation jobs.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { EndpointRecord } from '#core/endpoint.ts';
import type { MembershipChange } from '#core/membership.ts';
import type { Transition } from '#core/transition.ts';
import { endpointFromItem } from './items.ts';
import { FLEET_SHARDS, INDEX, ITEM, keys, WRITER } from './keys.ts';

/** DynamoDB allows 100 actions per transaction. */
const MAX_TRANSACTION_ACTIONS = 100;

export type Scope =
  | { readonly kind: 'company'; readonly companyId: string; readonly siteId?: string }
  | { readonly kind: 'fleet' };

export interface Page<T> {
  readonly items: T[];
  readonly next: PageCursor | null;
}
/** Where a paged walk stands: a fleet walk also carries its shard. */
export interface PageCursor {
  readonly shard?: number;
  readonly key?: Record<string, unknown>;
}

export interface JobItem {
  readonly jobId: string;
  readonly kind: 'evaluate' | 'purge';
  readonly scope?: Scope;
  readonly groupId?: string;
  readonly cursor: PageCursor | null;
  readonly page: number;
  readonly status: 'running' | 'done';
  readonly notBefore?: number;
  readonly reason: string;
  readonly processed: number;
}

/** A company or site the evaluation read: its revision, or undefined when it did not exist. */
export interface ScopeCheck {
  readonly companyId: string;
  readonly siteId?: string;
  readonly rev: number | undefined;
}

export interface ApplyInput {
  readonly endpoint: EndpointRecord;
  readonly changes: readonly MembershipChange[];
  readonly dropped: readonly string[];
  /** The company and site records the evaluation used; the write requires them unchanged. */
  readonly scopes: readonly ScopeCheck[];
  /** Transitions for `changes`, in the same order; built for membership revision grev + 1 + chunk. */
  readonly transitions: (chunk: number, changes: readonly MembershipChange[]) => Transition[];
  readonly nowIso: string;
  readonly historyExpiresAt: number;
}

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

export class StaleEndpointError extends Error {
  override readonly name = 'StaleEndpointError';
}

/** Index entries carry only keys: the endpoint id is the base table's PK after `ENDPOINT#`. */
function endpointIdOfKey(key: Record<string, unknown>): string {
  return String(key.PK).slice('ENDPOINT#'.length);
}

export function createMembershipStore(doc: DynamoDBDocumentClient, tableName: string) {
  async function batchGetConsistent(wanted: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < wanted.length; i += 100) {
      let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }> | undefined =
        {
          [tableName]: { Keys: wanted.slice(i, i + 100), ConsistentRead: true },
        };
      while (request && Object.keys(request).length > 0) {
        const out = await doc.send(new BatchGetCommand({ RequestItems: request }));
        found.push(...(out.Responses?.[tableName] ?? []));
        request = out.UnprocessedKeys as typeof request;
      }
    }
    return found;
  }

  async function transact(items: TransactItem[]) {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e: unknown) {
      // A failed condition (endpoint, company, site or group changed since it was read) or a conflict
      // with a concurrent write: the caller re-reads and evaluates again.
      const retryable = new Set(['ConditionalCheckFailed', 'TransactionConflict']);
      if (
        e instanceof TransactionCanceledException &&
        e.CancellationReasons?.some((r) => retryable.has(r.Code ?? ''))
      ) {
        throw new StaleEndpointError('data changed while it was evaluated');
      }
      throw e;
    }
  }

  function endpointUpdate(e: EndpointRecord, groups: Record<string, string>, grev: number): TransactItem {
    return {
      Update: {
        TableName: tableName,
        Key: keys.endpoint(e.endpointId),
        UpdateExpression: 'SET #groups = :groups, grev = :next, writer = :writer, groupsCompanyId = :company',
        ConditionExpression: 'rev = :rev AND grev = :grev',
        ExpressionAttributeNames: { '#groups': 'groups' },
        ExpressionAttributeValues: {
          ':groups': { ...groups },
          ':next': grev + 1,
          ':grev': grev,
          ':rev': e.rev,
          ':writer': WRITER.evaluate,
          ':company': e.companyId,
        },
      },
    };
  }

  function scopeCheck(scope: ScopeCheck): TransactItem {
    const Key =
      scope.siteId === undefined ? keys.company(scope.companyId) : keys.site(scope.companyId, scope.siteId);
    return {
      ConditionCheck: {
        TableName: tableName,
        Key,
        ...(scope.rev === undefined
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#rev = :rev',
              ExpressionAttributeNames: { '#rev': 'rev' },
              ExpressionAttributeValues: { ':rev': scope.rev },
            }),
      },
    };
  }

  const memberItem = (groupId: string, e: EndpointRecord, since: string) => ({
    ...keys.member(groupId, e.companyId, e.endpointId),
    type: ITEM.member,
    groupId,
    endpointId: e.endpointId,
    companyId: e.companyId,
    since,
  });

  return {
    /**
     * Writes membership changes, member items and transition records. Each transaction requires the
     * endpoint's `rev` and `grev`, the company's and site's revisions and every entered group's
     * definition to be what was evaluated; StaleEndpointError otherwise. More changes than one
     * transaction holds go in consecutive transactions, each guarded by the next `grev`.
     */
    async apply(input: ApplyInput): Promise<void> {
      const e = input.endpoint;
      const groups: Record<string, string> = { ...e.groups };
      for (const id of input.dropped) delete groups[id];
      const checks = input.scopes.map(scopeCheck);
      const capacity = MAX_TRANSACTION_ACTIONS - 1 - checks.length;
      // Packed greedily: a dropped group costs 1 action, an exit 2 (member item, transition), an entry
      // 3 (member item, transition, and the check that the group still exists).
      type Chunk = { dropped: string[]; changes: MembershipChange[] };
      const chunks: Chunk[] = [{ dropped: [], changes: [] }];
      let used = 0;
      const room = (cost: number): Chunk => {
        if (used + cost > capacity) {
          chunks.push({ dropped: [], changes: [] });
          used = 0;
        }
        used += cost;
        return chunks[chunks.length - 1] as Chunk;
      };
      for (const id of input.dropped) room(1).dropped.push(id);
      for (const c of input.changes) room(c.event === 'entered' ? 3 : 2).changes.push(c);
      let grev = e.grev;
      for (const [n, chunk] of chunks.entries()) {
        const transitions = input.transitions(n, chunk.changes);
        for (const c of chunk.changes) {
          if (c.event === 'entered') groups[c.groupId] = input.nowIso;
          else delete groups[c.groupId];
        }
        const items: TransactItem[] = [endpointUpdate(e, groups, grev), ...checks];
        for (const id of chunk.dropped) {
          items.push({ Delete: { TableName: tableName, Key: keys.member(id, e.companyId, e.endpointId) } });
        }
        for (const c of chunk.changes) {
          if (c.event === 'entered') {
            items.push({ Put: { TableName: tableName, Item: memberItem(c.groupId, e, input.nowIso) } });
            items.push({
              ConditionCheck: {
                TableName: tableName,
                Key: keys.group(c.groupId),
                ConditionExpression: 'attribute_exists(PK)',
              },
            });
          } else {
            items.push({
              Delete: { TableName: tableName, Key: keys.member(c.groupId, e.companyId, e.endpointId) },
            });
          }
        }
        for (const t of transitions) {
          items.push({
            Put: {
              TableName: tableName,
              Item: transitionItem(t, input.historyExpiresAt),
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          });
        }
        await transact(items);
        grev += 1;
      }
    },

    /**
     * Moves an endpoint's member items to the company it now belongs to (member keys carry the
     * company), in one transaction guarded like `apply`. No transition: membership is unchanged.
     */
    async rehome(e: EndpointRecord): Promise<void> {
      const from = e.groupsCompanyId ?? e.companyId;
      const entries = Object.entries(e.groups);
      if (1 + 2 * entries.length > MAX_TRANSACTION_ACTIONS) {
        throw new Error(`endpoint ${e.endpointId} is in ${entries.length} groups: too many to move at once`);
      }
      const items: TransactItem[] = [endpointUpdate(e, { ...e.groups }, e.grev)];
      for (const [groupId, since] of entries) {
        items.push({ Delete: { TableName: tableName, Key: keys.member(groupId, from, e.endpointId) } });
        items.push({ Put: { TableName: tableName, Item: memberItem(groupId, e, since) } });
      }
      await transact(items);
    },

    /**
     * One page of endpoints of a company (or one of its sites), or of one fleet shard. The indexes hold
     * keys only; the items are then read consistently, so evaluation starts from current data.
     */
    async endpointsPage(
      scope: Scope,
      cursor: PageCursor | null,
      limit: number,
    ): Promise<Page<EndpointRecord>> {
      let keysPage: { ids: string[]; next: PageCursor | null };
      if (scope.kind === 'company') {
        const out = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: INDEX.endpointsByParent,
            KeyConditionExpression:
              scope.siteId === undefined ? 'GSI3PK = :pk' : 'GSI3PK = :pk AND begins_with(GSI3SK, :prefix)',
            ExpressionAttributeValues: {
              ':pk': keys.companyEndpoints(scope.companyId),
              ...(scope.siteId === undefined ? {} : { ':prefix': keys.siteEndpointsPrefix(scope.siteId) }),
            },
            ExclusiveStartKey: cursor?.key,
            Limit: limit,
          }),
        );
        keysPage = {
          ids: (out.Items ?? []).map(endpointIdOfKey),
          next: out.LastEvaluatedKey ? { key: out.LastEvaluatedKey } : null,
        };
      } else {
        const shard = cursor?.shard ?? 0;
        const out = await doc.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: INDEX.fleet,
            KeyConditionExpression: 'GSI4PK = :pk',
            ExpressionAttributeValues: { ':pk': keys.fleetShard(shard) },
            ExclusiveStartKey: cursor?.key,
            Limit: limit,
          }),
        );
        keysPage = {
          ids: (out.Items ?? []).map(endpointIdOfKey),
          next: out.LastEvaluatedKey
            ? { shard, key: out.LastEvaluatedKey }
            : shard + 1 < FLEET_SHARDS
              ? { shard: shard + 1 }
              : null,
        };
      }
      const items = await batchGetConsistent(keysPage.ids.map((id) => keys.endpoint(id)));
      const records = items.filter((i) => i.type === ITEM.endpoint).map(endpointFromItem);
      // An endpoint moved to another company since the index was read is evaluated by its own record.
      const inScope =
        scope.kind === 'company'
          ? records.filter(
              (e) =>
                e.companyId === scope.companyId && (scope.siteId === undefined || e.siteId === scope.siteId),
            )
          : records;
      return { items: inScope, next: keysPage.next };
    },

    async getEndpoint(endpointId: string): Promise<EndpointRecord | undefined> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.endpoint(endpointId), ConsistentRead: true }),
      );
      return out.Item ? endpointFromItem(out.Item) : undefined;
    },

    async getJob(jobId: string): Promise<JobItem | undefined> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.job(jobId), ConsistentRead: true }),
      );
      return out.Item as JobItem | undefined;
    },

    /** Member items of a deleted group, one page; the purge removes them without transitions. */
    async memberPage(groupId: string, cursor: PageCursor | null, limit: number) {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.groupPartition(groupId), ':prefix': keys.membersPrefix() },
          ExclusiveStartKey: cursor?.key,
          Limit: limit,
        }),
      );
      return {
        items: (out.Items ?? []).map((i) => ({
          endpointId: String(i.endpointId),
          companyId: String(i.companyId),
        })),
        next: out.LastEvaluatedKey ? { key: out.LastEvaluatedKey } : null,
      };
    },

    /**
     * Removes a deleted group from one endpoint: member item and map entry, no transition. Refused
     * (`group-exists`) once a group with that id exists again: its own fleet walk owns them now.
     */
    async purgeMember(
      groupId: string,
      companyId: string,
      endpointId: string,
    ): Promise<'purged' | 'group-exists'> {
      const groupAbsent: TransactItem = {
        ConditionCheck: {
          TableName: tableName,
          Key: keys.group(groupId),
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      };
      const deleteMember: TransactItem = {
        Delete: { TableName: tableName, Key: keys.member(groupId, companyId, endpointId) },
      };
      const removeFromEndpoint: TransactItem = {
        Update: {
          TableName: tableName,
          Key: keys.endpoint(endpointId),
          UpdateExpression: 'REMOVE #groups.#g SET grev = grev + :one, writer = :w',
          ConditionExpression: 'attribute_exists(#groups.#g)',
          ExpressionAttributeNames: { '#groups': 'groups', '#g': groupId },
          ExpressionAttributeValues: { ':one': 1, ':w': WRITER.evaluate },
        },
      };
      try {
        await doc.send(
          new TransactWriteCommand({ TransactItems: [groupAbsent, deleteMember, removeFromEndpoint] }),
        );
        return 'purged';
      } catch (e: unknown) {
        if (!(e instanceof TransactionCanceledException)) throw e;
        const [group, , endpoint] = e.CancellationReasons ?? [];
        if (group?.Code === 'ConditionalCheckFailed') return 'group-exists';
        if (endpoint?.Code !== 'ConditionalCheckFailed') throw e;
        // The endpoint no longer lists the group (or is gone): only the member item is left.
        try {
          await doc.send(new TransactWriteCommand({ TransactItems: [groupAbsent, deleteMember] }));
        } catch (err: unknown) {
          if (!(err instanceof TransactionCanceledException)) throw err;
          if (err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return 'group-exists';
          throw err;
        }
        return 'purged';
      }
    },

    /** Creates a job unless one with this id exists (ids derive from the stream record: redelivery-safe). */
    async createJob(
      job: Omit<JobItem, 'status' | 'page' | 'cursor' | 'processed'>,
      nowIso: string,
      expiresAt: number,
    ) {
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...keys.job(job.jobId),
              type: ITEM.job,
              ...job,
              status: 'running',
              page: 0,
              cursor: null,
              processed: 0,
              createdAt: nowIso,
              expiresAt,
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          }),
        );
      } catch (e: unknown) {
        if (!(e instanceof Error && e.name === 'ConditionalCheckFailedException')) throw e;
      }
    },

    /** Records a page as done; the condition makes a redelivered page a no-op. */
    async advanceJob(
      job: JobItem,
      next: PageCursor | null,
      processed: number,
      nowIso: string,
    ): Promise<boolean> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.job(job.jobId),
            UpdateExpression:
              'SET #cursor = :cursor, #page = :next, #status = :status, #processed = :processed, #updatedAt = :now',
            ConditionExpression: '#page = :page',
            // Several of these names are DynamoDB reserved words: every one goes through a placeholder.
            ExpressionAttributeNames: {
              '#cursor': 'cursor',
              '#page': 'page',
              '#status': 'status',
              '#processed': 'processed',
              '#updatedAt': 'updatedAt',
            },
            ExpressionAttributeValues: {
              ':cursor': next,
              ':next': job.page + 1,
              ':page': job.page,
              ':status': next === null ? 'done' : 'running',
              ':processed': processed,
              ':now': nowIso,
            },
          }),
        );
        return true;
      } catch (e: unknown) {
        if (e instanceof Error && e.name === 'ConditionalCheckFailedException') return false;
        throw e;
      }
    },
  };
}

export type MembershipStore = ReturnType<typeof createMembershipStore>;

export function transitionItem(t: Transition, expiresAt: number) {
  return {
    ...keys.transition(t.endpointId, t.occurredAt, t.transitionId),
    ...keys.transitionByGroup(t.groupId, t.occurredAt, t.transitionId),
    ...keys.transitionInCollection(t.occurredAt, t.transitionId),
    type: ITEM.transition,
    ...t,
    expiresAt,
  };
}
