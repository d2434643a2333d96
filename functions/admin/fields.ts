// Field catalogue use cases: list, create or replace, delete custom field definitions. Every change
// is checked against the stored groups (a change that would break one is 409 naming it) and written
// under the group set's revision, so a group saved meanwhile is validated against the new catalogue.
import type { FieldDefinition } from '#core/catalogue.ts';
import { ConflictError, NotFoundError, ValidationError } from '#core/errors.ts';
import {
  fieldView,
  groupsReading,
  parseFieldDefinition,
  parseLevel,
  revalidateGroups,
  sameField,
} from '#core/field-definitions.ts';
import { BUILT_IN_FIELDS, catalogueOf } from '#core/shipped-catalogue.ts';
import { type QueryDeps, withGroupSet } from './queries.ts';

export async function listFields(deps: QueryDeps) {
  const { fields } = await deps.groups.snapshot();
  const custom = fields
    .map((f) => ({ ...fieldView(f.definition), updatedAt: f.updatedAt }))
    .sort((a, b) => a.level.localeCompare(b.level) || a.name.localeCompare(b.name));
  return { fields: [...custom, ...BUILT_IN_FIELDS.map((f) => fieldView(f))] };
}

/** The groups a catalogue change would break, as a 409 naming each of them. */
function breaking(e: ValidationError, what: string): ConflictError {
  const ids = [...new Set(e.details.map((d) => d.path.split('.')[1] ?? '').filter((id) => id !== ''))];
  return new ConflictError(`${what} would break group(s) ${ids.join(', ')}`, e.details);
}

export async function putField(deps: QueryDeps, levelRaw: string, name: string, body: unknown) {
  const def = parseFieldDefinition(levelRaw, name, body);
  return withGroupSet(deps, async ({ groups, fields, rev }) => {
    const existing = fields.map((f) => f.definition);
    const clash = sameField(existing, def.level, def.name);
    if (clash !== undefined && clash.name !== def.name) {
      throw new ConflictError(`Field "${clash.name}" already exists at ${def.level} (names ignore case)`);
    }
    const next: FieldDefinition[] = [...existing.filter((f) => f !== clash), def];
    try {
      revalidateGroups(
        next,
        groups.map((g) => g.definition),
      );
    } catch (e: unknown) {
      if (e instanceof ValidationError) throw breaking(e, `Field ${def.level}:${def.name}`);
      throw e;
    }
    const nowIso = new Date(deps.nowMs()).toISOString();
    await deps.groups.changeGuarded({ field: def }, rev, nowIso);
    return { status: clash === undefined ? 201 : 200, body: { ...fieldView(def), updatedAt: nowIso } };
  });
}

export async function deleteField(deps: QueryDeps, levelRaw: string, name: string) {
  const level = parseLevel(levelRaw);
  if (level === undefined) {
    throw new ValidationError('Invalid path', [
      { path: 'level', message: 'must be COMPANY, SITE or ENDPOINT' },
    ]);
  }
  return withGroupSet(deps, async ({ groups, fields, rev }) => {
    const existing = fields.map((f) => f.definition);
    const found = existing.find((f) => f.level === level && f.name === name);
    if (found === undefined) throw new NotFoundError(`No ${level} field "${name}"`);
    const readers = groupsReading(
      catalogueOf(existing),
      groups.map((g) => g.definition),
      level,
      name,
    );
    if (readers.length > 0) {
      throw new ConflictError(
        `Field ${level}:${name} is read by group(s) ${readers.join(', ')}`,
        readers.map((id) => ({ path: `groups.${id}`, message: `reads ${level}:${name}` })),
      );
    }
    await deps.groups.changeGuarded(
      { deleteField: { level, name } },
      rev,
      new Date(deps.nowMs()).toISOString(),
    );
    return { deleted: { level, name } };
  });
}
