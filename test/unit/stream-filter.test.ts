import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { EVALUATE_FILTERS, NOTIFY_FILTERS } from '#adapters/stream-filters.ts';
import { type FilterPattern, matchesFilter } from '#local/stream-filter.ts';
import { streamRecord } from '#test/helpers/stream.ts';

type Image = Record<string, AttributeValue>;
const record = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', images: { NewImage?: Image; OldImage?: Image }) =>
  streamRecord(eventName, images);

const passes = (patterns: readonly FilterPattern[], r: DynamoDBRecord) =>
  patterns.some((p) => matchesFilter(r, p));

const endpoint = (writer: string): Image => ({ type: { S: 'ENDPOINT' }, writer: { S: writer } });
const transition = (alert: boolean): Image => ({ type: { S: 'TRANSITION' }, alert: { BOOL: alert } });

describe('matchesFilter with the evaluate patterns', () => {
  it('passes endpoint writes by ingest, inserted or modified', () => {
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: endpoint('ingest') }))).toBe(true);
    expect(
      passes(
        EVALUATE_FILTERS,
        record('MODIFY', { NewImage: endpoint('ingest'), OldImage: endpoint('evaluate') }),
      ),
    ).toBe(true);
  });

  it("drops the evaluator's own endpoint writes", () => {
    expect(
      passes(
        EVALUATE_FILTERS,
        record('MODIFY', { NewImage: endpoint('evaluate'), OldImage: endpoint('ingest') }),
      ),
    ).toBe(false);
  });

  it('passes companies, sites, groups and jobs', () => {
    for (const type of ['COMPANY', 'SITE', 'GROUP', 'JOB']) {
      expect(passes(EVALUATE_FILTERS, record('MODIFY', { NewImage: { type: { S: type } } }))).toBe(true);
    }
  });

  it('passes a group deletion, which has only an old image', () => {
    expect(passes(EVALUATE_FILTERS, record('REMOVE', { OldImage: { type: { S: 'GROUP' } } }))).toBe(true);
  });

  it('drops other deletions, members, transitions and untyped items such as idempotency records', () => {
    expect(passes(EVALUATE_FILTERS, record('REMOVE', { OldImage: endpoint('ingest') }))).toBe(false);
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: { type: { S: 'MEMBER' } } }))).toBe(false);
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: transition(true) }))).toBe(false);
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: { status: { S: 'COMPLETED' } } }))).toBe(
      false,
    );
  });

  it('compares values exactly: case and attribute type matter', () => {
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: { type: { S: 'company' } } }))).toBe(false);
    expect(passes(EVALUATE_FILTERS, record('INSERT', { NewImage: { type: { N: 'COMPANY' } } }))).toBe(false);
  });
});

describe('matchesFilter with the notify pattern', () => {
  it('passes a newly inserted transition that asks for an alert', () => {
    expect(passes(NOTIFY_FILTERS, record('INSERT', { NewImage: transition(true) }))).toBe(true);
  });

  it('drops transitions without an alert, modified or removed transitions, and other items', () => {
    expect(passes(NOTIFY_FILTERS, record('INSERT', { NewImage: transition(false) }))).toBe(false);
    expect(passes(NOTIFY_FILTERS, record('INSERT', { NewImage: { type: { S: 'TRANSITION' } } }))).toBe(false);
    expect(
      passes(NOTIFY_FILTERS, record('MODIFY', { NewImage: transition(true), OldImage: transition(true) })),
    ).toBe(false);
    expect(passes(NOTIFY_FILTERS, record('REMOVE', { OldImage: transition(true) }))).toBe(false);
    expect(passes(NOTIFY_FILTERS, record('INSERT', { NewImage: endpoint('ingest') }))).toBe(false);
  });

  it('does not take the string "true" for the boolean', () => {
    const image: Image = { type: { S: 'TRANSITION' }, alert: { S: 'true' } };
    expect(passes(NOTIFY_FILTERS, record('INSERT', { NewImage: image }))).toBe(false);
  });
});

describe('matchesFilter rules', () => {
  it('matches an array value when any element is allowed', () => {
    expect(matchesFilter({ tags: ['a', 'b'] }, { tags: ['b'] })).toBe(true);
    expect(matchesFilter({ tags: ['a'] }, { tags: ['c'] })).toBe(false);
  });

  it('supports exists, prefix and anything-but', () => {
    expect(matchesFilter({ a: 1 }, { a: [{ exists: true }] })).toBe(true);
    expect(matchesFilter({}, { a: [{ exists: false }] })).toBe(true);
    expect(matchesFilter({ a: 1 }, { a: [{ exists: false }] })).toBe(false);
    expect(matchesFilter({ a: 'ENDPOINT#1' }, { a: [{ prefix: 'ENDPOINT#' }] })).toBe(true);
    expect(matchesFilter({ a: 'GROUP#1' }, { a: [{ prefix: 'ENDPOINT#' }] })).toBe(false);
    expect(matchesFilter({ a: 'x' }, { a: [{ 'anything-but': ['y'] }] })).toBe(true);
    expect(matchesFilter({ a: 'y' }, { a: [{ 'anything-but': 'y' }] })).toBe(false);
    expect(matchesFilter({}, { a: [{ 'anything-but': 'y' }] })).toBe(false);
  });

  it('does not match a missing value against null, nor an object against a value', () => {
    expect(matchesFilter({}, { a: [null] })).toBe(false);
    expect(matchesFilter({ a: null }, { a: [null] })).toBe(true);
    expect(matchesFilter({ a: { S: 'x' } }, { a: ['x'] })).toBe(false);
  });

  it('refuses pattern syntax it does not implement instead of guessing', () => {
    expect(() => matchesFilter({ a: 1 }, { a: [{ numeric: ['>', 0] }] })).toThrow(/not supported/);
    expect(() => matchesFilter({ a: 'x' }, { a: 'x' })).toThrow(/array of values/);
  });
});
