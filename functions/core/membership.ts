// Membership rules (DESIGN §2): facts of an endpoint, whether a change can matter to any group, and
// the transitions between the membership an endpoint has and the one its facts give.
import { createHash } from 'node:crypto';
import { type Catalogue, type FactValue, type FieldDefinition, fieldKey, type Level } from './catalogue.ts';
import type { CompiledGroupSet, Facts } from './criteria/types.ts';
import { type EndpointRecord, effectiveFields, type ScopeRecord, sameFact } from './endpoint.ts';
import type { Ruleset } from './ruleset.ts';
import type { Transition, TransitionEvent } from './transition.ts';

/** The facts the criteria engine evaluates: effective fields, unset ones absent. */
export function factsFor(
  catalogue: Catalogue,
  endpoint: EndpointRecord,
  site?: ScopeRecord,
  company?: ScopeRecord,
): Facts {
  const facts: Record<string, FactValue | undefined> = {};
  for (const [k, v] of Object.entries(effectiveFields(catalogue, endpoint, site, company))) {
    if (v !== null) facts[k] = v;
  }
  return facts;
}

/** An endpoint-level field's effective value on one endpoint record (built-in, stored, or default). */
function endpointValue(def: FieldDefinition, e: EndpointRecord): FactValue | null {
  if (def.builtIn !== undefined) return e[def.builtIn] ?? null;
  const v = e.fields[def.name];
  return v !== undefined ? v : (def.default ?? null);
}

/**
 * The endpoint facts an endpoint write changed, from the stream images alone (no table access):
 * `all` for a new endpoint or one that moved to another company or site (its inherited fields change).
 */
export function changedEndpointFacts(
  catalogue: Catalogue,
  before: EndpointRecord | undefined,
  after: EndpointRecord,
): 'all' | string[] {
  if (before === undefined) return 'all';
  if (before.companyId !== after.companyId || before.siteId !== after.siteId) return 'all';
  const changed: string[] = [];
  for (const def of catalogue.fields) {
    if (def.level !== 'ENDPOINT') continue;
    if (!sameFact(endpointValue(def, before), endpointValue(def, after))) {
      changed.push(fieldKey(def.level, def.name));
    }
  }
  return changed;
}

/**
 * Whether an endpoint write can change any membership: it changed a fact some group reads. Only the
 * endpoint fields the groups read are compared, so the test costs what the groups read, not what the
 * catalogue holds (a catalogue of 200 fields adds nothing for fields no group reads).
 */
export function endpointChangeMatters(
  ruleset: Ruleset,
  before: EndpointRecord | undefined,
  after: EndpointRecord,
): boolean {
  if (before === undefined) return true;
  if (before.companyId !== after.companyId || before.siteId !== after.siteId) return true;
  for (const def of readEndpointFields(ruleset)) {
    if (!sameFact(endpointValue(def, before), endpointValue(def, after))) return true;
  }
  return false;
}

/** The endpoint-level fields some group of the ruleset reads, computed once per ruleset. */
const readByRuleset = new WeakMap<Ruleset, readonly FieldDefinition[]>();
function readEndpointFields(ruleset: Ruleset): readonly FieldDefinition[] {
  let read = readByRuleset.get(ruleset);
  if (read === undefined) {
    read = ruleset.catalogue.fields.filter(
      (f) => f.level === 'ENDPOINT' && ruleset.groups.readKeys.has(fieldKey(f.level, f.name)),
    );
    readByRuleset.set(ruleset, read);
  }
  return read;
}

/** Whether a company or site write changes a field some group reads. */
export function scopeChangeMatters(
  level: Extract<Level, 'COMPANY' | 'SITE'>,
  before: ScopeRecord | undefined,
  after: ScopeRecord | undefined,
  readKeys: ReadonlySet<string>,
): boolean {
  const names = new Set([...Object.keys(before?.fields ?? {}), ...Object.keys(after?.fields ?? {})]);
  for (const name of names) {
    if (readKeys.has(fieldKey(level, name)) && before?.fields[name] !== after?.fields[name]) return true;
  }
  return false;
}

export interface MembershipChange {
  readonly groupId: string;
  readonly event: TransitionEvent;
}

/**
 * Changes from the groups an endpoint has to those it should have. Groups no longer defined are
 * dropped without a transition (a deleted group removes its memberships silently).
 */
export function diffMembership(
  current: Readonly<Record<string, string>>,
  next: ReadonlySet<string>,
  set: CompiledGroupSet,
): { changes: MembershipChange[]; dropped: string[] } {
  const changes: MembershipChange[] = [];
  const dropped: string[] = [];
  for (const id of Object.keys(current)) {
    if (set.get(id)?.id !== id) dropped.push(id);
    else if (!next.has(id)) changes.push({ groupId: id, event: 'exited' });
  }
  for (const id of next) if (current[id] === undefined) changes.push({ groupId: id, event: 'entered' });
  return { changes, dropped };
}

/**
 * Deterministic id: the same membership change, replayed, always yields the same transition. A state
 * recorded late (late-states.ts) is named by its report revision instead, `late:<rev>`.
 */
export function transitionId(
  endpointId: string,
  groupId: string,
  event: TransitionEvent,
  grev: number | `late:${number}`,
) {
  const h = createHash('sha256').update(`${endpointId}\u0000${groupId}\u0000${event}\u0000${grev}`);
  return `tr_${h.digest('base64url').slice(0, 22)}`;
}

export interface TransitionContext {
  readonly endpoint: EndpointRecord;
  readonly site: ScopeRecord | undefined;
  readonly company: ScopeRecord | undefined;
  readonly facts: Facts;
  readonly occurredAt: string;
  /** Membership revision this change produces. */
  readonly grev: number;
  /** Set for a state recorded after the fact (late-states.ts): named by the report, not by `grev`. */
  readonly late?: boolean;
}

export function buildTransition(
  change: MembershipChange,
  ruleset: Ruleset,
  ctx: TransitionContext,
): Transition {
  const group = ruleset.groups.get(change.groupId);
  if (group === undefined) throw new Error(`group ${change.groupId} is not compiled`);
  const policy = group.definition.alert;
  const alertOn = change.event === 'entered' ? 'enter' : 'exit';
  const alert = policy?.severity !== undefined && policy.on.includes(alertOn);
  const fields: Record<string, FactValue | null> = {};
  for (const key of group.reads) fields[key] = ctx.facts[key] ?? null;
  const e = ctx.endpoint;
  const status =
    ruleset.catalogue.statusKey === undefined ? undefined : ctx.facts[ruleset.catalogue.statusKey];
  return {
    transitionId: transitionId(
      e.endpointId,
      change.groupId,
      change.event,
      ctx.late === true ? `late:${e.rev}` : ctx.grev,
    ),
    groupId: group.id,
    groupName: group.definition.name,
    endpointId: e.endpointId,
    hostname: e.hostname,
    companyId: e.companyId,
    siteId: e.siteId,
    companyName: ctx.company?.name ?? null,
    siteName: ctx.site?.name ?? null,
    event: change.event,
    occurredAt: ctx.occurredAt,
    alert,
    severity: policy?.severity ?? null,
    fields,
    statusText: typeof status === 'string' ? status : null,
    reportRev: e.rev,
    recordedLate: ctx.late === true,
  };
}
