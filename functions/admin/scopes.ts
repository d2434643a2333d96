// Company and site upserts: merge the name and the level's fields, validated before the one write.

import * as z from 'zod/mini';
import type { Repository, ScopeRef } from '#adapters/repository.ts';
import type { Catalogue, Level } from '#core/catalogue.ts';
import { levelFields } from '#core/endpoint.ts';
import type { ProblemDetail } from '#core/errors.ts';
import { validateFields } from '#core/fields.ts';
import { fail } from '#http/validation.ts';

export const ScopeBody = z.strictObject({
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
  fields: z.optional(z.unknown()),
});
export type ScopeBody = z.infer<typeof ScopeBody>;

export async function upsertScope(
  scope: ScopeRef,
  body: ScopeBody,
  repo: Pick<Repository, 'upsertScope'>,
  nowIso: string,
  catalogue: Catalogue,
) {
  const level: Level = scope.siteId === undefined ? 'COMPANY' : 'SITE';
  const problems: ProblemDetail[] = [];
  const changes = validateFields(catalogue, level, body.fields, 'fields', problems);
  if (problems.length > 0) fail(level === 'COMPANY' ? 'company' : 'site', problems);
  const { record, updatedAt } = await repo.upsertScope(scope, body.name, changes, nowIso);
  return {
    companyId: record.companyId,
    ...(record.siteId !== undefined ? { siteId: record.siteId } : {}),
    name: record.name,
    fields: record.fields,
    /** Every field of the level with its stored value, else its default, else null. */
    effectiveFields: levelFields(catalogue, level, record.fields),
    updatedAt,
  };
}
