// Which stream records move the status page's per-company counters, and how (functions/core/tally.ts):
// an endpoint's first record or a move to another company, and a recorded transition of a counted
// group. Everything else (every routine report) costs the tally nothing.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { ITEM, WRITER } from '#adapters/keys.ts';
import type { TallyStore } from '#adapters/tally-store.ts';
import { isCountedGroup } from '#core/tally.ts';

const image = (raw: unknown) =>
  raw === undefined ? undefined : unmarshall(raw as Record<string, AttributeValue>);

export async function tallyRecord(
  tally: Pick<TallyStore, 'endpointSeen' | 'transition'>,
  record: DynamoDBRecord,
): Promise<void> {
  const after = image(record.dynamodb?.NewImage);
  if (after === undefined) return;
  const before = image(record.dynamodb?.OldImage);
  if (after.type === ITEM.transition && record.eventName === 'INSERT') {
    const groupId = String(after.groupId);
    if (!isCountedGroup(groupId)) return;
    await tally.transition({
      endpointId: String(after.endpointId),
      groupId,
      event: after.event === 'entered' ? 'entered' : 'exited',
      companyId: String(after.companyId),
      occurredAt: String(after.occurredAt),
      transitionId: String(after.transitionId),
    });
    return;
  }
  if (after.type !== ITEM.endpoint || after.writer !== WRITER.ingest) return;
  if (before !== undefined && before.companyId === after.companyId) return;
  await tally.endpointSeen(String(after.endpointId), String(after.companyId), Number(after.rev));
}
