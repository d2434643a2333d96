// When the clock alone can next change an endpoint's membership: the earliest instant at which a
// day-operator leaf (`Older than days N` / `Within last days N`, DESIGN §2: age > N × 24 h / age ≤
// N × 24 h) flips for the endpoint's current facts. The minute tick re-evaluates only endpoints whose
// due instant has passed (decisions: "Time-based groups: a due-time index").
import { helpers } from './criteria/codegen.ts';
import type { CompiledGroupSet, Facts } from './criteria/types.ts';
import { instantParts } from './instant.ts';

/** 9999-12-31T23:59:59.999Z: a flip later than this is never (index keys are four-digit-year ISO text). */
export const LAST_DUE_MS = 253_402_300_799_999;

/**
 * The first whole millisecond after `nowMs` at which some day leaf of `set` turns from "not older"
 * to "older" for these facts; undefined when none can (no day leaf, every one already older, or the
 * fact unset). A leaf that is older stays older while the fact keeps its value (age only grows), and
 * a new value is a change the evaluator sees anyway, so only leaves not yet older give a due instant.
 * Leaves whose flip changes no group still count: the tick then re-evaluates for nothing, once.
 */
export function nextDueMs(set: CompiledGroupSet, facts: Facts, nowMs: number): number | undefined {
  let due: number | undefined;
  for (const leaf of set.clockLeaves) {
    const value = facts[leaf.key];
    if (typeof value !== 'string') continue;
    const at = instantParts(value);
    if (at === undefined) continue;
    if (helpers.olderThan(at.ms, at.subNs, nowMs, leaf.spanMs, leaf.spanNs)) continue;
    // age − span = (now − ms − spanMs) − (subNs + spanNs) / 10⁶ ms: positive from the first whole
    // millisecond where now − ms − spanMs is 1 (when the ns parts stay under a millisecond) or 2.
    const flip = at.ms + leaf.spanMs + (at.subNs + leaf.spanNs < 1_000_000 ? 1 : 2);
    if (due === undefined || flip < due) due = flip;
  }
  return due !== undefined && due <= LAST_DUE_MS ? due : undefined;
}
