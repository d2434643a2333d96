// The evaluator's writes: membership changes and their transitions in one transaction guarded by the
// endpoint's data and membership revisions (so a retried or redelivered evaluation can never record
// a transition twice), company moves and purges of deleted groups.
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { EndpointRecord } from '#core/endpoint.ts';
import type { MembershipChange } from '#core/membership.ts';
import type { Transition } from '#core/transition.ts';
import {
  type ApplyInput,
  type MembershipWriter,
  StaleEndpointError,
  type Written,
} from '#functions/evaluate/ports.ts';
import { endpointFromItem } from './items.ts';
import { INDEX, ITEM, indexKeys, keys, legacyMembersQuery, WRITER } from './keys.ts';

/** DynamoDB allows 100 actions per transaction. */
const MAX_TRANSACTION_ACTIONS = 100;

/** How long a group found to hold pre-shard member items is taken to still hold them. */
const LEGACY_RECHECK_MS = 60_000;

/**
 * Which groups may still hold member items in their pre-shard partition (`GROUP#<g>`, written by
 * versions before the shards; decisions §27). A member leaving such a group has that key deleted
 * too, so nothing is stranded there. Nothing writes the partition any more: once a consistent read
 * finds it empty (after `npm run migrate`, or once its members have all left), it stays empty and
 * is not read again by this instance; one that is not empty is read again after a minute.
 */
export function legacyMembers(
  doc: DynamoDBDocumentClient,
  tableName: string,
  nowMs: () => number = Date.now,
) {
  const emptied = new Set<string>();
  const heldUntil = new Map<string, number>();
  return {
    /** False only when the group's pre-shard partition is known to be empty (no read). */
    maybe: (groupId: string) => !emptied.has(groupId),
    /** The groups among these whose pre-shard partition holds member items. */
    async pending(groupIds: Iterable<string>): Promise<Set<string>> {
      const out = new Set<string>();
      const now = nowMs();
      await Promise.all(
        [...new Set(groupIds)].map(async (groupId) => {
          if (emptied.has(groupId)) return;
          if ((heldUntil.get(groupId) ?? 0) > now) {
            out.add(groupId);
            return;
          }
          const found = await doc.send(
            new QueryCommand({
              TableName: tableName,
              ...legacyMembersQuery(groupId),
              Limit: 1,
              ProjectionExpression: 'PK',
            }),
          );
          if ((found.Items ?? []).length === 0) {
            emptied.add(groupId);
            heldUntil.delete(groupId);
          } else {
            heldUntil.set(groupId, now + LEGACY_RECHECK_MS);
            out.add(groupId);
          }
        }),
      );
      return out;
    },
  };
}

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

export function createMembershipWriter(doc: DynamoDBDocumentClient, tableName: string): MembershipWriter {
  const legacy = legacyMembers(doc, tableName);

  /** The groups an endpoint's write leaves (or drops) whose pre-shard partition holds members. */
  const legacyOf = (writes: readonly ApplyInput[]) =>
    legacy.pending(
      writes.flatMap((w) => [
        ...w.dropped,
        ...w.changes.filter((c) => c.event !== 'entered').map((c) => c.groupId),
      ]),
    );

  /** A member item's delete: its shard, and its pre-shard key while that partition holds members. */
  const memberDeletes = (
    held: ReadonlySet<string>,
    groupId: string,
    companyId: string,
    endpointId: string,
  ): TransactItem[] => [
    { Delete: { TableName: tableName, Key: keys.member(groupId, companyId, endpointId) } },
    ...(held.has(groupId)
      ? [{ Delete: { TableName: tableName, Key: keys.legacyMember(groupId, companyId, endpointId) } }]
      : []),
  ];

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
    mrev?: number,
    marks: Pick<ApplyInput, 'dueMs' | 'lastReportRead'> = {},
  ): TransactItem {
    const set = ['#groups = :groups', 'grev = :next', 'writer = :writer', 'groupsCompanyId = :company'];
    const remove: string[] = [];
    const names: Record<string, string> = { '#groups': 'groups' };
    const values: Record<string, unknown> = {
      ':groups': { ...groups },
      ':next': grev + 1,
      ':grev': grev,
      ...(requireRev ? { ':rev': e.rev } : {}),
      ':writer': WRITER.evaluate,
      ':company': e.companyId,
    };
    if (mrev !== undefined) {
      set.push('mrev = :mrev');
      values[':mrev'] = mrev;
    }
    // The due index entry (GSI5) is written only here, by the evaluator, and only when it changes.
    if (marks.dueMs !== undefined) {
      const { partitionKey, sortKey } = indexKeys(INDEX.due);
      names['#duePk'] = partitionKey;
      names['#dueSk'] = sortKey;
      if (marks.dueMs === null) remove.push('#duePk', '#dueSk');
      else {
        const entry = keys.endpointDue(e.endpointId, marks.dueMs);
        set.push('#duePk = :duePk', '#dueSk = :dueSk');
        values[':duePk'] = entry[partitionKey];
        values[':dueSk'] = entry[sortKey];
      }
    }
    if (marks.lastReportRead === true) {
      set.push('lastReportRead = :lrr');
      values[':lrr'] = true;
    } else if (marks.lastReportRead === false) remove.push('lastReportRead');
    return {
      Update: {
        TableName: tableName,
        Key: keys.endpoint(e.endpointId),
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: requireRev ? 'rev = :rev AND grev = :grev' : 'grev = :grev',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
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

  /**
   * Actions one endpoint's write may need: its update, a delete per dropped group, two per change,
   * and a pre-shard delete per group left that may still hold pre-shard members.
   */
  const actionsOf = (w: ApplyInput) =>
    1 +
    w.dropped.reduce((n, id) => n + (legacy.maybe(id) ? 2 : 1), 0) +
    w.changes.reduce((n, c) => n + (c.event !== 'entered' && legacy.maybe(c.groupId) ? 3 : 2), 0);

  /** The actions for one endpoint's membership revision `grev` → `grev + 1`. */
  function writeActions(
    w: ApplyInput,
    chunk: number,
    dropped: readonly string[],
    changes: readonly MembershipChange[],
    groups: Record<string, string>,
    grev: number,
    held: ReadonlySet<string>,
  ): TransactItem[] {
    const e = w.endpoint;
    for (const c of changes) {
      if (c.event === 'entered') groups[c.groupId] = w.nowIso;
      else delete groups[c.groupId];
    }
    const items: TransactItem[] = [endpointUpdate(e, groups, grev, w.requireRev, w.mrev, w)];
    for (const id of dropped) items.push(...memberDeletes(held, id, e.companyId, e.endpointId));
    for (const c of changes) {
      if (c.event === 'entered') {
        items.push({ Put: { TableName: tableName, Item: memberItem(c.groupId, e, w.nowIso) } });
      } else items.push(...memberDeletes(held, c.groupId, e.companyId, e.endpointId));
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

  const writer: MembershipWriter = {
    /**
     * Writes one endpoint's membership changes, member items and transition records, guarded by the
     * endpoint's `rev` and `grev` as evaluated (StaleEndpointError otherwise). A write without changes
     * still bumps `grev`: fan-out jobs use that to invalidate evaluations in flight that read older
     * company or site data. No action touches an item other endpoints' writes touch, so concurrent
     * writes never conflict. More changes than one transaction holds go in consecutive transactions,
     * each guarded by the next `grev`.
     */
    async apply(w: ApplyInput): Promise<Written> {
      const held = await legacyOf([w]);
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
      for (const id of w.dropped) room(held.has(id) ? 2 : 1).dropped.push(id);
      for (const c of w.changes) room(c.event !== 'entered' && held.has(c.groupId) ? 3 : 2).changes.push(c);
      let grev = w.endpoint.grev;
      for (const [n, chunk] of chunks.entries()) {
        await transact(writeActions(w, n, chunk.dropped, chunk.changes, groups, grev, held));
        grev += 1;
      }
      const mrev = w.mrev ?? w.endpoint.mrev;
      const dueMs = w.dueMs === undefined ? w.endpoint.dueMs : (w.dueMs ?? undefined);
      const lastReportRead = w.lastReportRead ?? w.endpoint.lastReportRead === true;
      return {
        groups,
        grev,
        ...(mrev === undefined ? {} : { mrev }),
        ...(dueMs === undefined ? {} : { dueMs }),
        ...(lastReportRead ? { lastReportRead } : {}),
      };
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
        await writer.apply(batch[0]);
        return;
      }
      const held = await legacyOf(batch);
      const items: TransactItem[] = [];
      for (const w of batch) {
        const groups: Record<string, string> = { ...w.endpoint.groups };
        for (const id of w.dropped) delete groups[id];
        items.push(...writeActions(w, 0, w.dropped, w.changes, groups, w.endpoint.grev, held));
      }
      await transact(items);
    },

    /**
     * Moves an endpoint's member items to the company it now belongs to (member keys carry the
     * company), in one transaction guarded like `apply`. No transition: membership is unchanged. An
     * item still in its group's pre-shard partition moves to its shard on the way.
     */
    async rehome(e: EndpointRecord, requireRev: boolean): Promise<void> {
      const from = e.groupsCompanyId ?? e.companyId;
      const entries = Object.entries(e.groups);
      const held = await legacy.pending(Object.keys(e.groups));
      if (1 + 2 * entries.length + held.size > MAX_TRANSACTION_ACTIONS) {
        throw new Error(`endpoint ${e.endpointId} is in ${entries.length} groups: too many to move at once`);
      }
      const items: TransactItem[] = [endpointUpdate(e, { ...e.groups }, e.grev, requireRev)];
      for (const [groupId, since] of entries) {
        const old = keys.member(groupId, from, e.endpointId);
        // A change of case only keeps the key (it is case-folded): the Put alone rewrites the item.
        if (old.SK !== keys.member(groupId, e.companyId, e.endpointId).SK) {
          items.push({ Delete: { TableName: tableName, Key: old } });
        }
        if (held.has(groupId)) {
          items.push({
            Delete: { TableName: tableName, Key: keys.legacyMember(groupId, from, e.endpointId) },
          });
        }
        items.push({ Put: { TableName: tableName, Item: memberItem(groupId, e, since) } });
      }
      await transact(items);
    },

    async requestEvaluation(endpointId: string, lastReportRead: boolean): Promise<void> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.endpoint(endpointId),
            UpdateExpression: lastReportRead
              ? 'SET grev = grev + :one, writer = :walk, lastReportRead = :lrr'
              : 'SET grev = grev + :one, writer = :walk REMOVE lastReportRead',
            ConditionExpression: 'attribute_exists(PK)',
            ExpressionAttributeValues: {
              ':one': 1,
              ':walk': WRITER.walk,
              ...(lastReportRead ? { ':lrr': true } : {}),
            },
          }),
        );
      } catch (e: unknown) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    },

    async settle(e: EndpointRecord) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: keys.endpoint(e.endpointId),
            // writer = evaluate: this write's own stream record is not a report to evaluate.
            UpdateExpression: 'SET mrev = :rev, writer = :writer',
            ConditionExpression: 'grev = :grev AND (attribute_not_exists(mrev) OR mrev <= :rev)',
            ExpressionAttributeValues: { ':rev': e.rev, ':grev': e.grev, ':writer': WRITER.evaluate },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return true as const;
      } catch (err: unknown) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        return { stored: err.Item ? endpointFromItem(unmarshall(err.Item)) : undefined };
      }
    },

    /**
     * Removes a deleted group from one endpoint: member item and map entry, no transition. The purge
     * job checks once per page that the group is still absent (a check inside each transaction would
     * make every purge transaction conflict on the group item).
     */
    async recordLate(endpointId, grev, transitions, expiresAt): Promise<boolean> {
      if (transitions.length === 0) return true;
      const unchanged: TransactItem = {
        ConditionCheck: {
          TableName: tableName,
          Key: keys.endpoint(endpointId),
          ConditionExpression: 'grev = :grev',
          ExpressionAttributeValues: { ':grev': grev },
        },
      };
      const puts = transitions.map(
        (t): TransactItem => ({
          Put: {
            TableName: tableName,
            Item: transitionItem(t, expiresAt),
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        }),
      );
      if (puts.length + 1 > MAX_TRANSACTION_ACTIONS) {
        throw new Error(`${puts.length} late transitions for ${endpointId}: more than one transaction holds`);
      }
      try {
        await transact([unchanged, ...puts]);
        return true;
      } catch (e: unknown) {
        if (e instanceof StaleEndpointError) return false;
        throw e;
      }
    },

    async purgeMember(groupId: string, companyId: string, endpointId: string): Promise<void> {
      const [deleteMember, ...deleteLegacy] = memberDeletes(
        await legacy.pending([groupId]),
        groupId,
        companyId,
        endpointId,
      ) as [TransactItem, ...TransactItem[]];
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
          new TransactWriteCommand({ TransactItems: [deleteMember, removeFromEndpoint, ...deleteLegacy] }),
        );
      } catch (e: unknown) {
        const reasons = e instanceof TransactionCanceledException ? (e.CancellationReasons ?? []) : [];
        if (reasons[1]?.Code !== 'ConditionalCheckFailed') throw e;
        // The endpoint no longer lists the group (or is gone): only the member item is left.
        for (const d of [deleteMember, ...deleteLegacy]) {
          await doc.send(new DeleteCommand(d.Delete as NonNullable<TransactItem['Delete']>));
        }
      }
    },
  };
  return writer;
}

export function transitionItem(t: Transition, expiresAt: number) {
  return {
    ...keys.transition(t.endpointId, t.occurredAt, t.transitionId),
    ...keys.transitionByGroup(t.groupId, t.endpointId, t.occurredAt, t.transitionId),
    ...keys.transitionInCollection(t.occurredAt, t.transitionId),
    type: ITEM.transition,
    ...t,
    expiresAt,
  };
}
