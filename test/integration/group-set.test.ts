// Group changes are validated against the set they were read with: concurrent PUTs cannot store a
// cycle, a DELETE cannot race a new reference. Real table, the query use cases called directly.
import { describe, expect, it } from 'vitest';
import { documentClient } from '#adapters/clients.ts';
import { createFieldStore, storedCatalogue } from '#adapters/field-store.ts';
import { createGroupStore, GroupSetChangedError, type GroupStore } from '#adapters/group-store.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { ValidationError } from '#core/errors.ts';
import { SHIPPED_FIELDS } from '#core/shipped-catalogue.ts';
import { putGroup } from '#functions/admin/queries.ts';
import { freshTable } from '#test/helpers/dynamo.ts';

const refersTo = (id: string) => ({
  name: `refers to ${id}`,
  blocks: [[{ field: 'Group', operator: 'Member of group', values: [id] }]],
});
const plain = {
  name: 'plain',
  blocks: [[{ field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['FAILED'] }]],
};

async function setup() {
  const { client, tableName } = await freshTable();
  const doc = documentClient(client);
  const groups = createGroupStore(doc, tableName);
  for (const f of SHIPPED_FIELDS) await groups.putFieldIfAbsent(f, new Date().toISOString());
  const deps = (store: GroupStore) => ({
    repo: createRepository(doc, tableName),
    groups: store,
    reads: createQueryStore(doc, tableName),
    catalogue: storedCatalogue(createFieldStore(doc, tableName)),
    nowMs: Date.now,
  });
  return { groups, deps };
}

describe('group set revisions', () => {
  it('refuses a change made against an outdated snapshot', async () => {
    const { groups, deps } = await setup();
    await putGroup(deps(groups), 'a', plain);
    const old = await groups.snapshot();
    await putGroup(deps(groups), 'b', plain);

    await expect(
      groups.changeGuarded({ deleteId: 'a' }, old.rev, new Date().toISOString()),
    ).rejects.toBeInstanceOf(GroupSetChangedError);
    expect((await groups.snapshot()).groups.map((g) => g.definition.id).sort()).toEqual(['a', 'b']);
  });

  it('never stores a cycle from two PUTs validated against the same set', async () => {
    // Prepare: x and y exist; the PUT of x -> y will be validated against a snapshot taken before
    // y -> x is stored, as two concurrent requests would be.
    const { groups, deps } = await setup();
    await putGroup(deps(groups), 'x', plain);
    await putGroup(deps(groups), 'y', plain);
    const stale = await groups.snapshot();
    let first = true;
    const racing: GroupStore = {
      ...groups,
      snapshot: async () => {
        if (!first) return groups.snapshot();
        first = false;
        return stale;
      },
    };
    await putGroup(deps(groups), 'y', refersTo('x'));

    // Act: x -> y, validated first against the stale set (no cycle there), then against the real one.
    const attempt = putGroup(deps(racing), 'x', refersTo('y'));

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    const stored = (await groups.snapshot()).groups.find((g) => g.definition.id === 'x');
    expect(JSON.stringify(stored?.definition)).not.toContain('Member of group');
  });
});
