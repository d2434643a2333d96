// The status page's counter arithmetic: what one event does to an endpoint's tally marker, and the
// counter deltas between two markers (functions/core/tally.ts).
import { describe, expect, it } from 'vitest';
import { applyTallyEvent, EMPTY_MARKER, type TallyMarker, tallyDeltas } from '#core/tally.ts';

const FAILED = 'bitlocker-key-backup-failed' as const;
const enter = (version: string, companyId = 'acme') =>
  ({ kind: 'transition', groupId: FAILED, entered: true, companyId, version }) as const;
const exit = (version: string) =>
  ({ kind: 'transition', groupId: FAILED, entered: false, companyId: 'acme', version }) as const;

describe('applyTallyEvent', () => {
  it('counts an endpoint once, and again only when its company changes with a newer rev', () => {
    const seen = applyTallyEvent(EMPTY_MARKER, {
      kind: 'endpoint',
      companyId: 'acme',
      rev: 1,
    }) as TallyMarker;
    expect(seen).toMatchObject({ companyId: 'acme', seen: true, companyV: 1 });
    expect(applyTallyEvent(seen, { kind: 'endpoint', companyId: 'acme', rev: 2 })).toBeUndefined();
    expect(applyTallyEvent(seen, { kind: 'endpoint', companyId: 'beta', rev: 1 })).toBeUndefined();
    expect(applyTallyEvent(seen, { kind: 'endpoint', companyId: 'beta', rev: 3 })).toMatchObject({
      companyId: 'beta',
    });
  });

  it('ignores a repeated or older transition, whatever order they arrive in', () => {
    const entered = applyTallyEvent(EMPTY_MARKER, enter('2026-01-01T00:00:01Z#a')) as TallyMarker;
    expect(applyTallyEvent(entered, enter('2026-01-01T00:00:01Z#a'))).toBeUndefined();
    const exited = applyTallyEvent(entered, exit('2026-01-01T00:00:02Z#b')) as TallyMarker;
    expect(exited.groups[FAILED]).toEqual({ in: false, v: '2026-01-01T00:00:02Z#b' });
    // The exit handled first, then the older entry: it stays out.
    const exitFirst = applyTallyEvent(EMPTY_MARKER, exit('2026-01-01T00:00:02Z#b')) as TallyMarker;
    expect(applyTallyEvent(exitFirst, enter('2026-01-01T00:00:01Z#a'))).toBeUndefined();
  });
});

describe('tallyDeltas', () => {
  it('adds an entry to the marker company and nothing else', () => {
    const seen = applyTallyEvent(EMPTY_MARKER, {
      kind: 'endpoint',
      companyId: 'Acme',
      rev: 1,
    }) as TallyMarker;
    const entered = applyTallyEvent(seen, enter('v1')) as TallyMarker;
    expect([...tallyDeltas(seen, entered)]).toEqual([
      ['acme', { companyId: 'Acme', counts: { 'g_bitlocker-key-backup-failed': 1 } }],
    ]);
  });

  it('moves every count of an endpoint to its new company', () => {
    const seen = applyTallyEvent(EMPTY_MARKER, {
      kind: 'endpoint',
      companyId: 'acme',
      rev: 1,
    }) as TallyMarker;
    const entered = applyTallyEvent(seen, enter('v1')) as TallyMarker;
    const moved = applyTallyEvent(entered, { kind: 'endpoint', companyId: 'beta', rev: 2 }) as TallyMarker;
    expect(Object.fromEntries(tallyDeltas(entered, moved))).toEqual({
      acme: { companyId: 'acme', counts: { endpoints: -1, 'g_bitlocker-key-backup-failed': -1 } },
      beta: { companyId: 'beta', counts: { endpoints: 1, 'g_bitlocker-key-backup-failed': 1 } },
    });
  });

  it('is empty when nothing counted changes', () => {
    expect(tallyDeltas(EMPTY_MARKER, EMPTY_MARKER).size).toBe(0);
  });
});
