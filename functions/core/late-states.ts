// States of reports the stream passed over, recorded late. A stream batch that keeps failing is
// parked (the on-failure queue) and the stream moves on; the next evaluated report of an endpoint
// catches up the one just before it (its old image), but when two or more consecutive reports were
// parked, the earlier ones' states are in no image the evaluator sees again until the parked batch
// is replayed, and by then the membership has moved past them. This module decides, for the reports
// of one endpoint replayed together, which transitions their states imply that the recorded history
// lacks, so the replay can record exactly those (late, at the reports they belong to).
//
// Pure: the caller evaluates each report's state and reads the endpoint's history and membership.
import type { TransitionEvent } from './transition.ts';

/** One report of the replayed window: its revision and the groups its data puts the endpoint in. */
export interface ReportState {
  readonly rev: number;
  readonly groups: ReadonlySet<string>;
}

/** A recorded transition, as far as reconciling needs it. */
export interface RecordedChange {
  readonly groupId: string;
  readonly event: TransitionEvent;
  /** The report revision it was evaluated from; null on transitions recorded before it was kept. */
  readonly reportRev: number | null;
}

/** A transition the history lacks: `event` into or out of `groupId`, at report `rev`. */
export interface MissingChange {
  readonly groupId: string;
  readonly event: TransitionEvent;
  readonly rev: number;
}

/**
 * Whether the endpoint was in `groupId` just before report `rev`, by the recorded history: its
 * membership now, with every transition of that group recorded from report `rev` on taken back.
 */
function memberBefore(
  current: ReadonlySet<string>,
  history: readonly RecordedChange[],
  groupId: string,
  rev: number,
): boolean {
  let member = current.has(groupId);
  for (const t of history) {
    if (t.groupId === groupId && t.reportRev !== null && t.reportRev >= rev) member = !member;
  }
  return member;
}

/**
 * The transitions the states of `window` (consecutive reports of one endpoint, oldest first) imply
 * and `history` does not hold, for `groupIds` (groups whose membership the report data alone decides;
 * time-based groups also move on the clock, which these states do not capture).
 *
 * For each group: the states the reports held, starting from the membership the history gives just
 * before the window, imply a sequence of changes; the history holds the changes it recorded at those
 * reports. A report evaluated after skipped ones records their net change, one report late, so the
 * recorded changes are matched with the implied ones from the end, same direction, each recorded at
 * or after the report it stands for; the implied changes left unmatched are missing. When the history
 * after the window does not show the last report's state, the last implied change (the one into that
 * state) is left out: it belongs to a change recorded later (the net change of a report evaluated
 * after more skipped ones) or to the next window, which starts from this one's last report (its old
 * image) and finds the history before it short of that state. The changes before it are recorded all
 * the same: a window that waited for the whole run of skipped reports would wait for ever once a
 * replay cut the run in two (two batches, or a message parked again part way). A group is left alone
 * when a recorded change matches nothing. Transitions without a report revision (recorded before it
 * was kept) count as older than the window: the caller does not reconcile a window they may belong to.
 */
export function missingChanges(
  window: readonly ReportState[],
  current: ReadonlySet<string>,
  history: readonly RecordedChange[],
  groupIds: Iterable<string>,
): MissingChange[] {
  if (window.length === 0) return [];
  const first = window[0] as ReportState;
  const last = window[window.length - 1] as ReportState;
  const missing: MissingChange[] = [];
  for (const groupId of groupIds) {
    const start = memberBefore(current, history, groupId, first.rev);
    const end = memberBefore(current, history, groupId, last.rev + 1);
    const implied: MissingChange[] = [];
    let member = start;
    for (const r of window) {
      const next = r.groups.has(groupId);
      if (next !== member) implied.push({ groupId, event: next ? 'entered' : 'exited', rev: r.rev });
      member = next;
    }
    if (end !== member) implied.pop();
    const recorded = history
      .filter(
        (t) =>
          t.groupId === groupId &&
          t.reportRev !== null &&
          t.reportRev >= first.rev &&
          t.reportRev <= last.rev,
      )
      .sort((a, b) => (a.reportRev as number) - (b.reportRev as number));
    const unmatched: MissingChange[] = [];
    let j = recorded.length - 1;
    for (let i = implied.length - 1; i >= 0; i--) {
      const c = implied[i] as MissingChange;
      const r = recorded[j];
      if (r !== undefined && r.event === c.event && c.rev <= (r.reportRev as number)) j--;
      else unmatched.push(c);
    }
    if (j >= 0) continue;
    missing.push(...unmatched.reverse());
  }
  return missing;
}
