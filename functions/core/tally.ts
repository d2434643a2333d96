// Per-company counters for the status page (endpoints, in Failed, in Key Missing), kept from the
// stream: each endpoint has a tally marker saying what it is counted as, and every change to the
// counters is the difference between the marker before and after one event. Applying an event twice,
// or an older event after a newer one, changes nothing (versions on the marker), so redelivery and
// records of one endpoint handled side by side cannot count anything twice.

/** The groups the summary counts per company (the shipped pack's alerting groups). */
export const COUNTED_GROUPS = ['bitlocker-key-backup-failed', 'bitlocker-key-missing'] as const;
export type CountedGroup = (typeof COUNTED_GROUPS)[number];

export function isCountedGroup(groupId: string): groupId is CountedGroup {
  return (COUNTED_GROUPS as readonly string[]).includes(groupId);
}

/** What one endpoint is counted as. `companyV` / `groups[g].v` order the events that set them. */
export interface TallyMarker {
  readonly companyId: string | undefined;
  /** The endpoint `rev` the company was taken from (0: from a transition, before any endpoint record). */
  readonly companyV: number;
  /** Counted in its company's `endpoints` (an endpoint record has been seen). */
  readonly seen: boolean;
  readonly groups: Readonly<Record<string, { readonly in: boolean; readonly v: string }>>;
}

export const EMPTY_MARKER: TallyMarker = { companyId: undefined, companyV: -1, seen: false, groups: {} };

export type TallyEvent =
  | { readonly kind: 'endpoint'; readonly companyId: string; readonly rev: number }
  | {
      readonly kind: 'transition';
      readonly groupId: CountedGroup;
      readonly entered: boolean;
      readonly companyId: string;
      /** `<occurredAt>#<transitionId>`: an endpoint's transitions are recorded one after another. */
      readonly version: string;
    };

/** Counter deltas by case-folded company id: the id as the event spelled it, counter name → delta. */
export type TallyDeltas = Map<string, { companyId: string; counts: Record<string, number> }>;

/** The counter names of a company item: `endpoints` and one per counted group. */
export const counterName = (groupId: CountedGroup) => `g_${groupId}`;

/** The marker after the event, or undefined when the event changes nothing (old, repeated). */
export function applyTallyEvent(marker: TallyMarker, event: TallyEvent): TallyMarker | undefined {
  if (event.kind === 'endpoint') {
    if (event.rev <= marker.companyV) return undefined;
    if (marker.seen && marker.companyId === event.companyId) return undefined;
    return { ...marker, companyId: event.companyId, companyV: event.rev, seen: true };
  }
  const prev = marker.groups[event.groupId];
  if (prev !== undefined && prev.v >= event.version) return undefined;
  return {
    ...marker,
    // A transition may be handled before its endpoint's first record; the record corrects it later.
    companyId: marker.companyId ?? event.companyId,
    companyV: marker.companyId === undefined ? 0 : marker.companyV,
    groups: { ...marker.groups, [event.groupId]: { in: event.entered, v: event.version } },
  };
}

function contributions(marker: TallyMarker): Record<string, number> {
  const out: Record<string, number> = { endpoints: marker.seen ? 1 : 0 };
  for (const g of COUNTED_GROUPS) out[counterName(g)] = marker.groups[g]?.in === true ? 1 : 0;
  return out;
}

/** What moving from one marker to the next adds to each company's counters (zeros left out). */
export function tallyDeltas(before: TallyMarker, after: TallyMarker): TallyDeltas {
  const deltas: TallyDeltas = new Map();
  const add = (companyId: string | undefined, counts: Record<string, number>, sign: number) => {
    if (companyId === undefined) return;
    const key = companyId.toLowerCase();
    const entry = deltas.get(key) ?? { companyId, counts: {} };
    for (const [name, n] of Object.entries(counts)) entry.counts[name] = (entry.counts[name] ?? 0) + sign * n;
    deltas.set(key, entry);
  };
  add(before.companyId, contributions(before), -1);
  add(after.companyId, contributions(after), +1);
  for (const [key, entry] of deltas) {
    for (const [name, n] of Object.entries(entry.counts)) if (n === 0) delete entry.counts[name];
    if (Object.keys(entry.counts).length === 0) deltas.delete(key);
  }
  return deltas;
}

/** One company's line of the summary. */
export interface CompanySummary {
  readonly companyId: string;
  readonly name: string | null;
  readonly endpoints: number;
  readonly failed: number;
  readonly keyMissing: number;
  /** Endpoints whose last report is older than 7 days, as of `staleAsOf` (hourly census). */
  readonly notReporting7d: number;
  readonly staleAsOf: string | null;
}
