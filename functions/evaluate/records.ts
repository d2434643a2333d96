// Stream records → evaluator changes. Images are unmarshalled once here; the evaluator never sees
// DynamoDB attribute values.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { endpointFromItem, type Item, scopeFromItem } from '#adapters/items.ts';
import { ITEM, WRITER } from '#adapters/keys.ts';
import type { Change, ChangeRecord } from './evaluate.ts';
import type { JobItem } from './ports.ts';

function image(raw: unknown): Item | undefined {
  return raw === undefined ? undefined : unmarshall(raw as Record<string, AttributeValue>);
}

function toChange(record: DynamoDBRecord): Change {
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  const type = (after ?? before)?.type;
  switch (type) {
    case ITEM.endpoint:
      if (after === undefined || (after.writer !== WRITER.ingest && after.writer !== WRITER.walk))
        return { kind: 'ignore' };
      return {
        kind: 'endpoint',
        walk: after.writer === WRITER.walk,
        before: before?.type === ITEM.endpoint ? endpointFromItem(before) : undefined,
        after: endpointFromItem(after),
      };
    case ITEM.company:
    case ITEM.site: {
      const ref = scopeFromItem((after ?? before) as Item);
      return {
        kind: 'scope',
        level: type === ITEM.company ? 'COMPANY' : 'SITE',
        ref:
          ref.siteId === undefined
            ? { companyId: ref.companyId }
            : { companyId: ref.companyId, siteId: ref.siteId },
        before: before ? scopeFromItem(before) : undefined,
        after: after ? scopeFromItem(after) : undefined,
      };
    }
    case ITEM.group: {
      const groupId = String((after ?? before)?.groupId);
      // Any PUT counts, even of the same definition: saving a group again is how an operator asks for
      // the whole fleet to be re-evaluated (after a failure was parked in the on-failure queue).
      const changed =
        JSON.stringify(before?.definition) !== JSON.stringify(after?.definition) ||
        before?.updatedAt !== after?.updatedAt;
      return { kind: 'group', groupId, removed: after === undefined, changed };
    }
    case ITEM.field: {
      const item = (after ?? before) as Item;
      const changed = JSON.stringify(before?.definition) !== JSON.stringify(after?.definition);
      return {
        kind: 'field',
        level: String(item.level) as 'COMPANY' | 'SITE' | 'ENDPOINT',
        name: String(item.name),
        changed,
      };
    }
    case ITEM.job:
      return after === undefined ? { kind: 'ignore' } : { kind: 'job', job: after as unknown as JobItem };
    default:
      return { kind: 'ignore' };
  }
}

export function toChangeRecords(records: readonly DynamoDBRecord[]): ChangeRecord[] {
  return records.map((r, i) => ({ id: r.eventID ?? `record-${i}`, change: toChange(r) }));
}
