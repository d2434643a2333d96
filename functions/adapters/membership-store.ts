// The evaluator's writes: membership changes and their transitions in one transaction guarded by the
// endpoint's data and membership revisions (so a retried or redelivered evaluation can never record
// a transition twice), fan-out pages, and re-evaluation jobs.
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
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
import { batchGetAll } from './batch-get.ts';
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
  /**
   * Bump every walked endpoint's `grev`, changed or not, so that evaluations in flight that read the
   * data before the change this job applies cannot write their result (company, site and group
   * changes; the minute tick does not need it).
   */
  readonly touch?: boolean;
  readonly reason: string;
  readonly processed: number;
}

export interface ApplyInput {
  readonly endpoint: EndpointRecord;
  readonly changes: readonly MembershipChange[];
  readonly dropped: readonly string[];
  /** Transitions for `changes`, in the same order; built for membership revision grev + 1 + chunk. */
  readonly transitions: (chunk: number, changes: readonly MembershipChange[]) => Transition[];
  readonly nowIso: string;
  readonly historyExpiresAt: number;
  /** Whether the endpoint's data revision must still be the evaluated one (see endpointUpdate). */
  readonly requireRev: boolean;
}

/** An endpoint's membership after a write. */
export interface Written {
  readonly groups: Readonly<Record<string, string>>;
  readonly grev: number;
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
  const batchGetConsistent = (wanted: Record<string, unknown>[]) => batchGetAll(doc, tableName, wanted, true);

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

  /**
   * The endpoint's new membership, guarded by its membership revision and, where the evaluation must
   * have used the newest data (jobs, re-reads), by its data revision too. A stream record is
   * evaluated from its own image even when newer reports exist, so that a state that lasted only
   * until the next report still records its transitions; the next record then moves on from it.
   */
  function endpointUpdate(
    e: EndpointRecord,
    groups: Record<string, string>,
    grev: number,
    requireRev: boolean,
  ): TransactItem {
    return {
      Update: {
        TableName: tableName,
        Key: keys.endpoint(e.endpointId),
        UpdateExpression: 'SET #groups = :groups, grev = :next, writer = :writer, groupsCompanyId = :company',
        ConditionExpression: requireRev ? 'rev = :rev AND grev = :grev' : 'grev = :grev',
        ExpressionAttributeNames: { '#groups': 'groups' },
        ExpressionAttributeValues: {
          ':groups': { ...groups },
          ':next': grev + 1,
          ':grev': grev,
          ...(requireRev ? { ':rev': e.rev } : {}),
          ':writer': WRITER.evaluate,
          ':company': e.companyId,
        },
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

  /** Actions one endpoint's write needs: its update, a delete per dropped group, two per change. */
  const actionsOf = (w: ApplyInput) => 1 + w.dropped.length + 2 * w.changes.length;

  /** The actions for one endpoint's membership revision `grev` → `grev + 1`. */
  function writeActions(
    w: ApplyInput,
    chunk: number,
    dropped: readonly string[],
    changes: readonly MembershipChange[],
    groups: Record<string, string>,
    grev: number,
  ): TransactItem[] {
    const e = w.endpoint;
    for (const c of changes) {
      if (c.event === 'entered') groups[c.groupId] = w.nowIso;
      else delete groups[c.groupId];
    }
    const items: TransactItem[] = [endpointUpdate(e, groups, grev, w.requireRev)];
    for (const id of dropped) {
      items.push({ Delete: { TableName: tableName, Key: keys.member(id, e.companyId, e.endpointId) } });
    }
    for (const c of changes) {
      items.push(
        c.event === 'entered'
          ? { Put: { TableName: tableName, Item: memberItem(c.groupId, e, w.nowIso) } }
          : { Delete: { TableName: tableName, Key: keys.member(c.groupId, e.companyId, e.endpointId) } },
      );
    }
    for (const t of w.transitions(chunk, changes)) {
      items.push({
        Put: {
          TableName: tableName,
          Item: transitionItem(t, w.historyExpiresAt),
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      });
    }
    return items;
  }

  return {
    /**
     * Writes one endpoint's membership changes, member items and transition records, guarded by the
     * endpoint's `rev` and `grev` as evaluated (StaleEndpointError otherwise). A write without changes
     * still bumps `grev`: fan-out jobs use that to invalidate evaluations in flight that read older
     * company or site data. No action touches an item other endpoints' writes touch, so concurrent
     * writes never conflict. More changes than one transaction holds go in consecutive transactions,
     * each guarded by the next `grev`.
     */
    async apply(w: ApplyInput): Promise<Written> {
      const groups: Record<string, string> = { ...w.endpoint.groups };
      for (const id of w.dropped) delete groups[id];
      type Chunk = { dropped: string[]; changes: MembershipChange[] };
      const chunks: Chunk[] = [{ dropped: [], changes: [] }];
      let used = 1;
      const room = (cost: number): Chunk => {
        if (used + cost > MAX_TRANSACTION_ACTIONS) {
          chunks.push({ dropped: [], changes: [] });
          used = 1;
        }
        used += cost;
        return chunks[chunks.length - 1] as Chunk;
      };
      for (const id of w.dropped) room(1).dropped.push(id);
      for (const c of w.changes) room(2).changes.push(c);
      let grev = w.endpoint.grev;
      for (const [n, chunk] of chunks.entries()) {
        await transact(writeActions(w, n, chunk.dropped, chunk.changes, groups, grev));
        grev += 1;
      }
      return { groups, grev };
    },

    /** Packs writes of different endpoints into transactions of at most 100 actions. */
    packTogether(writes: readonly ApplyInput[]): ApplyInput[][] {
      const batches: ApplyInput[][] = [];
      let current: ApplyInput[] = [];
      let used = 0;
      for (const w of writes) {
        const cost = actionsOf(w);
        if (cost > MAX_TRANSACTION_ACTIONS) {
          batches.push([w]);
          continue;
        }
        if (used + cost > MAX_TRANSACTION_ACTIONS) {
          batches.push(current);
          current = [];
          used = 0;
        }
        current.push(w);
        used += cost;
      }
      if (current.length > 0) batches.push(current);
      return batches;
    },

    /**
     * Applies several endpoints' writes in one transaction (a fan-out page): all or none. When one
     * endpoint changed meanwhile the whole batch fails with StaleEndpointError and the caller
     * evaluates those endpoints one by one.
     */
    async applyTogether(batch: readonly ApplyInput[]): Promise<void> {
      if (batch.length === 1 && batch[0] !== undefined) {
        await this.apply(batch[0]);
        return;
      }
      const items: TransactItem[] = [];
      for (const w of batch) {
        const groups: Record<string, string> = { ...w.endpoint.groups };
        for (const id of w.dropped) delete groups[id];
        items.push(...writeActions(w, 0, w.dropped, w.changes, groups, w.endpoint.grev));
      }
      await transact(items);
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
      const items: TransactItem[] = [endpointUpdate(e, { ...e.groups }, e.grev, true)];
      for (const [groupId, since] of entries) {
        items.push({ Delete: { TableName: tableName, Key: keys.member(groupId, from, e.endpointId) } });
        items.push({ Put: { TableName: tableName, Item: memberItem(groupId, e, since) } });
      }
      await transact(items);
    },

    /**
     * One page of endpoints of a company (or one of its sites), or of one fleet shard. The indexes hold
     * keys only; the items are then read by key, consistently unless the caller says otherwise.
     */
    async endpointsPage(
      scope: Scope,
      cursor: PageCursor | null,
      limit: number,
      consistent = true,
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
      const items = await batchGetAll(
        doc,
        tableName,
        keysPage.ids.map((id) => keys.endpoint(id)),
        consistent,
      );
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

    /** Which of these groups are defined now (consistent read; entries are rare, so is this read). */
    async existingGroups(groupIds: readonly string[]): Promise<Set<string>> {
      const items = await batchGetConsistent(groupIds.map((id) => keys.group(id)));
      return new Set(items.map((i) => String(i.groupId)));
    },

    async groupExists(groupId: string): Promise<boolean> {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: keys.group(groupId), ConsistentRead: true }),
      );
      return out.Item !== undefined;
    },

    /**
     * Removes a deleted group from one endpoint: member item and map entry, no transition. The purge
     * job checks once per page that the group is still absent (a check inside each transaction would
     * make every purge transaction conflict on the group item).
     */
    async purgeMember(groupId: string, companyId: string, endpointId: string): Promise<void> {
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
        await doc.send(new TransactWriteCommand({ TransactItems: [deleteMember, removeFromEndpoint] }));
      } catch (e: unknown) {
        const reasons = e instanceof TransactionCanceledException ? (e.CancellationReasons ?? []) : [];
        if (reasons[1]?.Code !== 'ConditionalCheckFailed') throw e;
        // The endpoint no longer lists the group (or is gone): only the member item is left.
        await doc.send(
          new DeleteCommand({ TableName: tableName, Key: keys.member(groupId, companyId, endpointId) }),
        );
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
