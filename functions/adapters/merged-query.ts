// One list written over several partitions (of the table or of an index), read back page by page as
// if it were one partition: a k-way merge by sort key. The fleet-wide transition list (GSI2), a
// group's members and a group's transitions (GSI1) are each spread this way so that no single
// partition takes a fleet-wide change's writes (docs/scale.md section 2).
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Item } from './items.ts';
import { type IndexName, indexKeys, TABLE_SCHEMA } from './keys.ts';

export interface MergedList {
  /** The index read (the base table when absent). */
  readonly index?: IndexName;
  /** Every partition the list is written over. */
  readonly partitions: readonly string[];
  /**
   * Partitions read as well but expected to hold few items (one that older versions wrote, now
   * only emptied): not counted when a page is shared out among the partitions.
   */
  readonly leftovers?: readonly string[];
  /** Only sort keys starting with this (it must end in a character ids cannot hold, like `#`). */
  readonly sortPrefix?: string;
  /** Descending sort keys (time-ordered lists, newest first); ascending otherwise. */
  readonly descending: boolean;
}

export interface MergedPage {
  readonly items: Item[];
  /**
   * Where the next page starts, only when more items exist: the partition and sort key of the
   * page's last item. Only the sort key is read back, so no partition's own position is carried,
   * and a cursor of the list as one partition (before it was spread) reads on correctly.
   */
  readonly lastKey: Record<string, unknown> | undefined;
}

/**
 * DynamoDB orders string keys by their UTF-8 bytes. JavaScript's `<` compares UTF-16 code units,
 * which orders characters beyond U+FFFF before U+E000–U+FFFF: merged with it, a page could skip or
 * repeat items of ids holding such characters.
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Items each partition is asked for when `remaining` are still wanted from `active` partitions: its
 * even share and about one standard deviation more (the ids are hashed, so a partition's share of
 * any key range is binomial), so that most pages take one Query per partition and read few items
 * past the page. A partition running out of read items before the page is full is read again.
 */
function batchSize(remaining: number, active: number): number {
  const share = remaining / Math.max(active, 1);
  return Math.ceil(share) + Math.ceil(Math.sqrt(share)) + 1;
}

/** The last sort key with this prefix, exclusive (the prefix's last character, plus one). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

interface Source {
  readonly partition: string;
  readonly leftover: boolean;
  readonly buffer: Item[];
  next: Record<string, unknown> | undefined;
  done: boolean;
}

/**
 * One page of at most `limit` items of the merged list, starting after `start` (a `lastKey` this
 * returned). Each partition is read lazily from its own position: a first Query of about its share
 * of the page, and another only when its read items ran out before the page was full (see
 * batchSize). One item beyond the page is merged to know whether a cursor is due, so the last page
 * never hands out a cursor to an empty one. An item found in two partitions (the same sort key) is
 * listed once.
 */
export async function mergedPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  list: MergedList,
  limit: number,
  start?: Record<string, unknown>,
): Promise<MergedPage> {
  const { partitionKey, sortKey } = list.index === undefined ? TABLE_SCHEMA : indexKeys(list.index);
  const from = start?.[sortKey];
  const after = typeof from === 'string' ? from : undefined;
  const sortOf = (item: Item) => String(item[sortKey]);

  /**
   * The key condition on one partition. After a cursor with a prefix, BETWEEN (inclusive) bounds
   * both ends; the cursor's own item is then dropped when read.
   */
  function condition(partition: string) {
    const names: Record<string, string> = { '#pk': partitionKey };
    const values: Record<string, unknown> = { ':pk': partition };
    let sk = '';
    const prefix = list.sortPrefix;
    if (after !== undefined) {
      names['#sk'] = sortKey;
      values[':after'] = after;
      if (prefix === undefined) sk = list.descending ? ' AND #sk < :after' : ' AND #sk > :after';
      else if (list.descending) {
        sk = ' AND #sk BETWEEN :lo AND :after';
        values[':lo'] = prefix;
      } else {
        sk = ' AND #sk BETWEEN :after AND :hi';
        values[':hi'] = prefixEnd(prefix);
      }
    } else if (prefix !== undefined) {
      names['#sk'] = sortKey;
      values[':prefix'] = prefix;
      sk = ' AND begins_with(#sk, :prefix)';
    }
    return {
      ...(list.index === undefined ? {} : { IndexName: list.index }),
      KeyConditionExpression: `#pk = :pk${sk}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  async function read(source: Source, size: number) {
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        ...condition(source.partition),
        ScanIndexForward: !list.descending,
        Limit: size,
        ExclusiveStartKey: source.next,
      }),
    );
    for (const item of out.Items ?? []) {
      if (after === undefined || sortOf(item) !== after) source.buffer.push(item);
    }
    source.next = out.LastEvaluatedKey;
    source.done = out.LastEvaluatedKey === undefined;
  }

  const sources: Source[] = [
    ...list.partitions.map((partition) => ({ partition, leftover: false })),
    ...(list.leftovers ?? []).map((partition) => ({ partition, leftover: true })),
  ].map((s) => ({ ...s, buffer: [], next: undefined, done: false }));
  const sign = list.descending ? -1 : 1;
  const wanted = limit + 1;
  const items: Item[] = [];
  let previous: string | undefined;
  while (items.length < wanted) {
    // Every partition that may hold more must show its next item before the smallest is taken.
    const empty = sources.filter((s) => s.buffer.length === 0 && !s.done);
    if (empty.length > 0) {
      const size = batchSize(wanted - items.length, sources.filter((s) => !s.done && !s.leftover).length);
      await Promise.all(empty.map((s) => read(s, size)));
      continue;
    }
    let best: Source | undefined;
    for (const s of sources) {
      const head = s.buffer[0];
      if (head === undefined) continue;
      if (best === undefined || sign * compareKeys(sortOf(head), sortOf(best.buffer[0] as Item)) < 0)
        best = s;
    }
    if (best === undefined) break;
    const item = best.buffer.shift() as Item;
    if (previous !== undefined && sortOf(item) === previous) continue;
    previous = sortOf(item);
    items.push(item);
  }
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page,
    lastKey:
      items.length > limit && last !== undefined
        ? { [partitionKey]: last[partitionKey], [sortKey]: last[sortKey] }
        : undefined,
  };
}
