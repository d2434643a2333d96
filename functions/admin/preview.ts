// `POST /v1/groups/preview`: what a group definition would do before it is saved. It is evaluated
// against the stored fleet exactly as the evaluator would (same catalogue, same compiled engine, the
// other stored groups for membership criteria), and compared with the stored version of the group.

import { isObject } from '#core/criteria/criterion.ts';
import {
  compileGroups,
  criteriaOf,
  evaluate,
  lintGroup,
  parseGroupDefinition,
} from '#core/criteria/index.ts';
import type { GroupDefinition } from '#core/criteria/types.ts';
import { scopeKey } from '#core/endpoint.ts';
import { factsFor } from '#core/membership.ts';
import { catalogueOf } from '#core/shipped-catalogue.ts';
import type { FleetPager, PageCursor } from '#functions/evaluate/ports.ts';
import type { QueryDeps } from './queries.ts';

/** Endpoints one preview reads at most (the admin function has 10 s): beyond, `complete` is false. */
export const PREVIEW_MAX_ENDPOINTS = 5_000;
const PAGE = 200;
/** Members (and entering / leaving endpoints) listed by id. */
const SAMPLE = 50;
/** The id a preview without one is evaluated under (no stored group can have it: ids exclude `#`). */
const UNSAVED = '#preview';

export interface PreviewDeps extends QueryDeps {
  readonly fleet: FleetPager;
}

/** The alternatives whose match explains a membership: each block, or each child of a top `any`. */
function alternativesOf(def: GroupDefinition): { label: string; definition: GroupDefinition }[] {
  const base = { id: def.id, name: def.name };
  if (def.blocks !== undefined) {
    return def.blocks.map((block, i) => ({
      label: `blocks[${i}]`,
      definition: { ...base, id: `${def.id}#blocks[${i}]`, blocks: [block] },
    }));
  }
  const root = criteriaOf(def);
  if (!('any' in root))
    return [{ label: 'criteria', definition: { ...base, id: `${def.id}#criteria`, criteria: root } }];
  return root.any.map((child, i) => ({
    label: `criteria.any[${i}]`,
    definition: { ...base, id: `${def.id}#criteria.any[${i}]`, criteria: child },
  }));
}

export async function previewGroup(deps: PreviewDeps, body: unknown) {
  const { groups, fields } = await deps.groups.snapshot();
  const catalogue = catalogueOf(fields.map((f) => f.definition));
  const givenId = isObject(body) && typeof body.id === 'string' ? body.id : undefined;
  const parsed = parseGroupDefinition(givenId ?? 'preview', body, catalogue);
  const id = givenId ?? UNSAVED;
  const candidate = { ...parsed, id };
  const stored = groups.find((g) => g.definition.id.toLowerCase() === id.toLowerCase())?.definition;
  const others = groups.map((g) => g.definition).filter((d) => d.id.toLowerCase() !== id.toLowerCase());
  const alternatives = alternativesOf(candidate);
  // Validates references and cycles like a PUT, and compiles the explanations alongside.
  const set = compileGroups([...others, candidate, ...alternatives.map((a) => a.definition)], {
    catalogue,
    candidateId: id,
  });
  const resolved = set.get(id)?.definition ?? candidate;

  const byCompany: Record<string, number> = {};
  const members: {
    endpointId: string;
    companyId: string;
    siteId: string;
    hostname: string | null;
    matched: string[];
  }[] = [];
  const entering: string[] = [];
  const leaving: string[] = [];
  let count = 0;
  let enteringCount = 0;
  let leavingCount = 0;
  let scanned = 0;
  let cursor: PageCursor | null = null;
  const now = deps.nowMs();
  do {
    const page = await deps.fleet.endpointsPage({ kind: 'fleet' }, cursor, PAGE, false);
    const refs = page.items.flatMap((e) => [
      { companyId: e.companyId },
      { companyId: e.companyId, siteId: e.siteId },
    ]);
    const scopes = refs.length === 0 ? new Map() : await deps.repo.getScopes(refs, false);
    for (const e of page.items) {
      const facts = factsFor(
        catalogue,
        e,
        scopes.get(scopeKey({ companyId: e.companyId, siteId: e.siteId })),
        scopes.get(scopeKey({ companyId: e.companyId })),
      );
      const result = evaluate(set, facts, now);
      const member = result.has(id);
      const was = stored !== undefined && e.groups[stored.id] !== undefined;
      if (member) {
        count++;
        byCompany[e.companyId] = (byCompany[e.companyId] ?? 0) + 1;
        if (members.length < SAMPLE) {
          members.push({
            endpointId: e.endpointId,
            companyId: e.companyId,
            siteId: e.siteId,
            hostname: e.hostname,
            matched: alternatives.filter((a) => result.has(a.definition.id)).map((a) => a.label),
          });
        }
      }
      if (member && !was && stored !== undefined) {
        enteringCount++;
        if (entering.length < SAMPLE) entering.push(e.endpointId);
      }
      if (!member && was) {
        leavingCount++;
        if (leaving.length < SAMPLE) leaving.push(e.endpointId);
      }
    }
    scanned += page.items.length;
    cursor = page.next;
  } while (cursor !== null && scanned < PREVIEW_MAX_ENDPOINTS);

  return {
    groupId: givenId ?? null,
    scanned,
    complete: cursor === null,
    memberCount: count,
    byCompany,
    members,
    // Against the stored version of the group (null when there is none: everything would enter).
    ...(stored === undefined
      ? { entering: null, leaving: null }
      : {
          entering: { count: enteringCount, endpointIds: entering },
          leaving: { count: leavingCount, endpointIds: leaving },
        }),
    warnings: lintGroup(resolved, catalogue),
  };
}
