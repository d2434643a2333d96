// Types of dynamic-group definitions (DESIGN §2) and of the facts the compiled criteria read.
import type { FactValue, Level } from '../catalogue.ts';

export const OPERATORS = [
  'Equal',
  'Not Equal',
  'Contains any of',
  'Does Not Contain any of',
  'Contains all of',
  'Begins with',
  'Ends with',
  'Is Blank',
  'Greater than',
  'Less than',
  'Older than days',
  'Within last days',
  'Member of group',
  'Not member of group',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** The pseudo-field of the membership operators. */
export const GROUP_FIELD = 'Group';

/**
 * One condition. In a parsed definition `field`, `level` and `operator` carry their canonical
 * spelling, and `values` are strings: JSON numbers and booleans in the input are accepted and stored
 * as text (`3`, `"True"`/`"False"`), because the RMM stores every criterion value as text.
 */
export interface Criterion {
  readonly field: string;
  readonly level?: Level;
  readonly operator: Operator;
  readonly values?: readonly string[];
}

export type CriteriaNode =
  | { readonly all: readonly CriteriaNode[] }
  | { readonly any: readonly CriteriaNode[] }
  | { readonly not: CriteriaNode }
  | Criterion;

export type AlertEvent = 'enter' | 'exit';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface AlertPolicy {
  readonly on: readonly AlertEvent[];
  readonly severity?: Severity;
}

interface GroupDefinitionBase {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly alert?: AlertPolicy;
}

/**
 * A group as stored and as `GET /v1/groups/{id}` returns it: the shape the client sent (`criteria`
 * tree or the RMM's `blocks`), canonically spelled. Read the criteria through `criteriaOf`.
 */
export type GroupDefinition = GroupDefinitionBase &
  (
    | { readonly criteria: CriteriaNode; readonly blocks?: undefined }
    | { readonly blocks: readonly (readonly Criterion[])[]; readonly criteria?: undefined }
  );

/**
 * What the criteria of one endpoint are evaluated against: a flat record keyed by
 * `fieldKey(level, name)` (`"ENDPOINT:BitLocker Key Backup Status"`, `"SITE:Disable BitLocker Key
 * Backup"`, `"ENDPOINT:OS Type"`, ...). The caller builds it:
 * - custom fields of the endpoint, its site and its company, with catalogue defaults already applied;
 * - built-in properties under `ENDPOINT:<name>` (`OS Type`, `Endpoint Type`, `Hostname`, `Company`,
 *   `Site`, `Last Report` as the ISO `observedAt`);
 * - a field without value is `undefined` (absent) and evaluates as empty.
 * Value types follow the catalogue: Flag → boolean, Number → number, Date → ISO-8601 string,
 * Text/Dropdown → string (Dropdowns in their canonical option spelling); a multi-valued built-in →
 * an array of strings.
 */
export type Facts = Readonly<Record<string, FactValue | undefined>>;

export interface CompiledGroup {
  readonly id: string;
  /** The definition with membership references resolved to the referenced groups' stored ids. */
  readonly definition: GroupDefinition;
  /** Fact keys this group's own leaves read (membership references excluded). */
  readonly reads: readonly string[];
  /** Stored ids of the groups its membership operators reference. */
  readonly dependsOn: readonly string[];
  /** Whether it uses `Older than days` / `Within last days`, so the clock alone can change it. */
  readonly timeBased: boolean;
}

/** A day-operator leaf: its truth flips once, when the fact's age passes the span. */
export interface ClockLeaf {
  readonly key: string;
  readonly spanMs: number;
  readonly spanNs: number;
}

export interface CompiledGroupSet {
  /** Groups in topological order: every group after the groups it references. */
  readonly groups: readonly CompiledGroup[];
  /** Union of every group's `reads`. */
  readonly readKeys: ReadonlySet<string>;
  readonly hasTimeBased: boolean;
  /**
   * Every distinct day-operator leaf (`Older than days` / `Within last days`): the Date fact it reads
   * and its span N × 24 h, exactly (whole ms and the ns beyond). What the clock alone can flip.
   */
  readonly clockLeaves: readonly ClockLeaf[];
  /** Lookup by id, ignoring case. */
  get(id: string): CompiledGroup | undefined;
  /**
   * @internal The generated evaluator: sets `results[i]` to 1 or 0 for `groups[i]` in order (so a
   * membership criterion reads the groups before it) and adds each member's id to `members`.
   */
  readonly run: (facts: Facts, now: number, results: Uint8Array, members: Set<string>) => void;
  /** @internal scratch space reused by every evaluation of this set. */
  readonly results: Uint8Array;
  /** The generated source, for debugging and review. */
  readonly source: string;
}
