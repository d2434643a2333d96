// The states of passed-over reports, reconciled window by window as replays deliver them
// (core/late-states.ts), against a model of the evaluator's stream path. One endpoint, one group:
// the stream evaluates some reports in order and passes over the rest (their batches parked); the
// parked ranges come back in any order, interleaved with the stream, cut into batches whose attempts
// fail part way (the effect taken or not) and whose rest is parked again after its retries. Whatever
// the cut, the history ends with every change the reports' states imply, in order, once.
//
// Found by `npm run bench -- faults` at 20 %: a state held by reports that came back in two windows
// (two batches, or a retry holding only the records from the failure on) was never recorded, because
// a window whose last state the history did not show yet was left alone entirely.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { missingChanges, type RecordedChange, type ReportState } from '#core/late-states.ts';

const G = 'failed';

interface Endpoint {
  member: boolean;
  /** The last report evaluated (the membership's `mrev`). */
  mrev: number;
  history: RecordedChange[];
}

/** The evaluator's record path: the report before first when it was passed over (the catch-up). */
function evaluate(e: Endpoint, states: readonly boolean[], rev: number): 'evaluated' | 'passed' {
  const at = (r: number) => {
    const s = states[r] as boolean;
    if (s !== e.member) e.history.push({ groupId: G, event: s ? 'entered' : 'exited', reportRev: r });
    e.member = s;
    e.mrev = r;
  };
  if (e.mrev < rev - 1 && states[rev - 1] !== e.member) at(rev - 1);
  if (e.mrev >= rev) return 'passed';
  at(rev);
  return 'evaluated';
}

/** What recordLateStates writes for one batch's run of the endpoint's reports (old image first). */
function recordLate(e: Endpoint, states: readonly boolean[], revs: readonly number[]) {
  const window: ReportState[] = [(revs[0] as number) - 1, ...revs]
    .filter((r) => r <= e.mrev)
    .map((r) => ({ rev: r, groups: new Set(states[r] ? [G] : []) }));
  // Nothing is read where the images' states do not differ (statesDiffer).
  if (window.every((w) => w.groups.size === (window[0] as ReportState).groups.size)) return;
  for (const m of missingChanges(window, new Set(e.member ? [G] : []), e.history, [G]))
    e.history.push({ groupId: G, event: m.event, reportRev: m.rev });
}

const implied = (states: readonly boolean[]) =>
  states.slice(1).flatMap((s, i) => (s === states[i] ? [] : [s ? 'entered' : 'exited']));

const events = (e: Endpoint) =>
  [...e.history].sort((a, b) => (a.reportRev as number) - (b.reportRev as number)).map((t) => t.event);

describe('late states, replayed window by window', () => {
  it('records every implied change once, however the replays cut and retry the parked reports', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 2, maxLength: 24 }),
        fc.array(fc.nat(7), { minLength: 24, maxLength: 24 }),
        fc.infiniteStream(fc.nat(1_000)),
        (states, layout, choices) => {
          const n = states.length - 1;
          const pick = (k: number) => (choices.next().value as number) % k;
          const e: Endpoint = { member: states[0] as boolean, mrev: 0, history: [] };
          // Report r ends a stretch when layout[r] < 2; a stretch is parked when its layout is odd,
          // and then its reports were passed over except those evaluated before the batch failed.
          const stretches: [number, number][] = [];
          for (let r = 1, from = 1; r <= n; r++) {
            if (r === n || (layout[r] as number) < 2) {
              stretches.push([from, r]);
              from = r + 1;
            }
          }
          const parked: [number, number][] = [];
          const replay = () => {
            const [x, y] = parked.splice(pick(parked.length), 1)[0] as [number, number];
            for (let from = x; from <= y; ) {
              const to = Math.min(y, from + pick(4));
              const run: number[] = [];
              for (let r = from; r <= to; r++) run.push(r);
              let done = false;
              for (let attempt = 0; attempt < 3 && !done; attempt++) {
                // Fails at record `f` (f === run.length: recording the late states), its effect
                // taken or not; the retry holds the endpoint's whole run (evaluate/app.ts).
                const f = pick(2) === 0 ? pick(run.length + 1) : -1;
                const taken = pick(2) === 0;
                let passed = false;
                for (let k = 0; k < run.length && (k < f || f < 0 || (k === f && taken)); k++)
                  passed = evaluate(e, states, run[k] as number) === 'passed' || passed;
                if (f >= 0 && f < run.length) continue;
                if (passed && (f < 0 || taken)) recordLate(e, states, run);
                done = f < 0;
              }
              if (!done) {
                parked.push([from, y]);
                return;
              }
              from = to + 1;
            }
            // A message delivered twice comes back again.
            if (pick(4) === 0) parked.push([x, y]);
          };
          for (const [x, y] of stretches) {
            const isParked = (layout[x - 1] as number) % 2 === 1;
            for (let r = x; r <= y; r++) if (!isParked || pick(3) === 0) evaluate(e, states, r);
            if (isParked) parked.push([x, y]);
            while (parked.length > 0 && pick(2) === 0) replay();
          }
          while (parked.length > 0) replay();

          expect(events(e)).toEqual(implied(states));
          expect(e.member).toBe(states[n]);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
