// Which transitions a replay records late: the states of reports the stream passed over, reconciled
// with what the history recorded (core/late-states.ts). The property: whichever reports were passed
// over, the history plus what is recorded late holds every change the reports' states imply, in
// order, once, and a second reconciliation adds nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { missingChanges, type RecordedChange, type ReportState } from '#core/late-states.ts';

const G = 'failed';
const state = (rev: number, member: boolean): ReportState => ({
  rev,
  groups: new Set(member ? [G] : []),
});

/** What the evaluator records when only the `evaluated` reports are evaluated, in order. */
function record(start: boolean, states: readonly boolean[], evaluated: readonly boolean[]) {
  const history: RecordedChange[] = [];
  let member = start;
  states.forEach((s, i) => {
    if (!evaluated[i]) return;
    if (s !== member) history.push({ groupId: G, event: s ? 'entered' : 'exited', reportRev: i + 1 });
    member = s;
  });
  return { history, current: new Set(member ? [G] : []) };
}

const byRev = (a: { rev?: number; reportRev?: number | null }, b: typeof a) =>
  (a.rev ?? a.reportRev ?? 0) - (b.rev ?? b.reportRev ?? 0);

describe('missingChanges', () => {
  it('records a state that lasted two passed-over reports, and nothing twice', () => {
    // in Successful at 1; 2 FAILED and 3 SUCCESS passed over; 4 (Key Missing) evaluated from 1's state.
    const window = [state(2, true), state(3, false)];
    const history: RecordedChange[] = [];
    expect(missingChanges(window, new Set(), history, [G])).toEqual([
      { groupId: G, event: 'entered', rev: 2 },
      { groupId: G, event: 'exited', rev: 3 },
    ]);
  });

  it('leaves a change recorded one report late alone', () => {
    // 2 entered, 3 stayed: the catch-up of 3 recorded the entry at 3.
    const history: RecordedChange[] = [{ groupId: G, event: 'entered', reportRev: 3 }];
    expect(missingChanges([state(2, true), state(3, true)], new Set([G]), history, [G])).toEqual([]);
  });

  it('waits while the last report of the window has not been evaluated', () => {
    // The history does not end in report 3's state: its evaluation is still to come.
    expect(missingChanges([state(2, true), state(3, true)], new Set(), [], [G])).toEqual([]);
  });

  it('records what it can of a run cut in two, and leaves the last state to the window after', () => {
    // Reports 2–5 passed over (FAILED, success, FAILED, success); 6 evaluated, no change recorded.
    // The replay brings 1–4 in one batch and 4–5 (4 as the old image) in the next.
    const first = missingChanges(
      [state(1, false), state(2, true), state(3, false), state(4, true)],
      new Set(),
      [],
      [G],
    );
    expect(first).toEqual([
      { groupId: G, event: 'entered', rev: 2 },
      { groupId: G, event: 'exited', rev: 3 },
    ]);
    const history = first.map((m) => ({ groupId: G, event: m.event, reportRev: m.rev }));
    expect(missingChanges([state(4, true), state(5, false)], new Set(), history, [G])).toEqual([
      { groupId: G, event: 'entered', rev: 4 },
      { groupId: G, event: 'exited', rev: 5 },
    ]);
  });

  it('completes the history whichever reports were passed over', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 12 }),
        (start, reports) => {
          const states = reports.map(([s]) => s);
          // The last report is evaluated (it is what moved the membership past the others).
          const evaluated = reports.map(([, e], i) => e || i === reports.length - 1);
          const { history, current } = record(start, states, evaluated);
          const window = states.map((s, i) => state(i + 1, s));
          const late = missingChanges(window, current, history, [G]);

          const implied = record(
            start,
            states,
            states.map(() => true),
          ).history;
          const merged = [
            ...history.map((h) => ({ event: h.event, rev: h.reportRev as number })),
            ...late.map((l) => ({ event: l.event, rev: l.rev })),
          ].sort(byRev);
          expect(merged.length).toBe(implied.length);
          // Alternating from the start state, ending in the last report's state.
          let member = start;
          for (const m of merged) {
            expect(m.event).toBe(member ? 'exited' : 'entered');
            member = !member;
          }
          expect(member).toBe(states[states.length - 1]);
          // A second replay finds nothing more to record.
          const again = [...history, ...late.map((l) => ({ groupId: G, event: l.event, reportRev: l.rev }))];
          expect(missingChanges(window, current, again, [G])).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
