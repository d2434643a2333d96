// The group-shard keys (keys.ts) and the merge order (merged-query.ts) without a table: an endpoint's
// member item and its group transitions share a shard, a fleet spreads evenly over the shards, and
// sort keys compare as DynamoDB compares them (UTF-8 bytes), not as JavaScript's `<` does.
import { describe, expect, it } from 'vitest';
import { GROUP_SHARDS, keys } from '#adapters/keys.ts';
import { compareKeys } from '#adapters/merged-query.ts';

describe('group shard keys', () => {
  it('puts an endpoint member item and its group transitions on one of the group shards', () => {
    for (let i = 0; i < 200; i++) {
      const id = `LAPTOP-${i}`;
      const member = keys.member('g', 'Acme', id);
      expect(keys.groupShards('g')).toContain(member.PK);
      expect(keys.transitionByGroup('g', id, '2026-01-01T00:00:00.000Z', `t${i}`).GSI1PK).toBe(member.PK);
      expect(keys.legacyMember('g', 'Acme', id)).toEqual({ PK: 'GROUP#g', SK: member.SK });
    }
    expect(keys.groupPartitions('g')).toEqual(['GROUP#g', ...keys.groupShards('g')]);
    expect(new Set(keys.groupShards('g')).size).toBe(GROUP_SHARDS);
  });

  it('spreads a fleet evenly over the shards', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const pk = keys.member('g', 'acme', `EP-${i}`).PK;
      counts.set(pk, (counts.get(pk) ?? 0) + 1);
    }
    expect(counts.size).toBe(GROUP_SHARDS);
    for (const n of counts.values()) expect(Math.abs(n - 10_000 / GROUP_SHARDS)).toBeLessThan(250);
  });
});

describe('compareKeys', () => {
  it('orders by UTF-8 bytes, as DynamoDB does', () => {
    const bmp = 'MEMBER#acme#\uFB00';
    const astral = 'MEMBER#acme#\u{1F600}';
    // UTF-16 code units put the astral character (a surrogate, 0xD83D) first; UTF-8 bytes do not.
    expect(astral < bmp).toBe(true);
    expect(compareKeys(bmp, astral)).toBeLessThan(0);
    expect(compareKeys('MEMBER#acme#A', 'MEMBER#acme#B')).toBeLessThan(0);
    expect(compareKeys('MEMBER#acme#', 'MEMBER#acme#A')).toBeLessThan(0);
    expect(compareKeys('x', 'x')).toBe(0);
  });
});
