// The criteria engine of DESIGN §2: parse a group definition, compile a set of them, evaluate facts.
export { compileGroups, compileWithCandidate, dependentsOf } from './compile.ts';
export { evaluate } from './evaluate.ts';
export { type LintRule, type LintWarning, lintGroup } from './lint.ts';
export { criteriaOf, parseGroupDefinition } from './parse.ts';
export type {
  AlertEvent,
  AlertPolicy,
  CompiledGroup,
  CompiledGroupSet,
  CriteriaNode,
  Criterion,
  Facts,
  GroupDefinition,
  Operator,
} from './types.ts';
export { GROUP_FIELD, OPERATORS } from './types.ts';
