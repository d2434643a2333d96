// `POST /v1/import`: an RMM solution's field catalogue and dynamic groups in one validated step. A dry
// run (the default) answers what would be created, replaced or left as it is; `apply` writes it.
import * as z from 'zod/mini';
import type { GuardedChange } from '#adapters/group-store.ts';
import { fieldKey } from '#core/catalogue.ts';
import { planImport } from '#core/rmm-import.ts';
import { type QueryDeps, withGroupSet } from './queries.ts';

export const ImportBody = z.strictObject({
  fields: z.optional(z.unknown()),
  groups: z.optional(z.unknown()),
  apply: z.optional(z.boolean()),
});
export type ImportBody = z.infer<typeof ImportBody>;

/** Writes per transaction: DynamoDB takes 100 items, one of them the revision bump. */
const CHUNK = 99;

/**
 * Validates the whole import against a snapshot of the stored set (400 listing every problem, nothing
 * written) and, with `apply`, writes it under the set's revision: fields first, then groups in
 * reference order, in transactions of up to 99 items, each guarded by the revision the previous one
 * left. An import of 99 items or fewer is one transaction. A larger one interrupted by a concurrent
 * change is planned again from a fresh snapshot (what was written is then `unchanged`), so it still
 * ends with everything written or a 409; every prefix it writes is a valid set (fields before the
 * groups reading them, referenced groups before their referrers).
 */
export async function importSolution(deps: QueryDeps, body: ImportBody) {
  return withGroupSet(deps, async ({ groups, fields, rev }) => {
    const plan = planImport(body.fields, body.groups, {
      fields: fields.map((f) => f.definition),
      groups: groups.map((g) => g.definition),
    });
    const changes: GuardedChange[] = [
      ...plan.fields.write.map((field) => ({ field })),
      ...plan.groups.write.map((definition) => ({ definition })),
    ];
    const apply = body.apply === true;
    if (apply) {
      const nowIso = new Date(deps.nowMs()).toISOString();
      for (let i = 0; i < changes.length; i += CHUNK) {
        await deps.groups.changeManyGuarded(changes.slice(i, i + CHUNK), rev + i / CHUNK, nowIso);
      }
    }
    const createdFields = new Set(plan.fields.created);
    const createdGroups = new Set(plan.groups.created);
    return {
      dryRun: !apply,
      applied: apply,
      fields: {
        created: plan.fields.created,
        replaced: plan.fields.write
          .map((f) => fieldKey(f.level, f.name))
          .filter((k) => !createdFields.has(k)),
        unchanged: plan.fields.unchanged,
      },
      groups: {
        created: plan.groups.created,
        replaced: plan.groups.write.map((g) => g.id).filter((id) => !createdGroups.has(id)),
        unchanged: plan.groups.unchanged,
      },
    };
  });
}
