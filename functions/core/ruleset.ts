// A ruleset: the field catalogue, the group definitions compiled against it, and the revision of the
// group set they were read at (the item every guarded group change bumps). Everything that evaluates
// membership takes one, so what it evaluates against is always explicit and consistent.
import type { Catalogue } from './catalogue.ts';
import { compileGroups } from './criteria/compile.ts';
import type { CompiledGroupSet, GroupDefinition } from './criteria/types.ts';
import { type ProblemDetail, ValidationError } from './errors.ts';

export interface Ruleset {
  readonly revision: number;
  readonly catalogue: Catalogue;
  readonly groups: CompiledGroupSet;
}

/** Stored definitions that cannot be compiled against the catalogue (a field it lacks, a cycle). */
export class RulesetError extends Error {
  override readonly name = 'RulesetError';
  readonly revision: number;
  readonly problems: readonly ProblemDetail[];
  constructor(revision: number, problems: readonly ProblemDetail[]) {
    const listed = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    super(`Group set revision ${revision} cannot be loaded: ${listed}`);
    this.revision = revision;
    this.problems = problems;
  }
}

/**
 * Compiles the definitions against the catalogue, once per load: a group reading a field the
 * catalogue lacks fails here with every such field named, not later at each evaluation.
 */
export function buildRuleset(
  catalogue: Catalogue,
  definitions: readonly GroupDefinition[],
  revision: number,
): Ruleset {
  try {
    return { revision, catalogue, groups: compileGroups(definitions, { catalogue }) };
  } catch (e: unknown) {
    if (e instanceof ValidationError) throw new RulesetError(revision, e.details);
    throw e;
  }
}

/** Whether a report that moved only Last Report can change a membership. */
export function readsLastReport(r: Ruleset): boolean {
  const lastReport = r.catalogue.lastReportKey;
  return lastReport !== undefined && r.groups.readKeys.has(lastReport);
}
