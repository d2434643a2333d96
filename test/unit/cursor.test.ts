// Pagination cursors (DESIGN §4): opaque, and any cursor this API did not issue for the list at hand
// is a 400 (a ValidationError), never a key handed to DynamoDB.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#core/errors.ts';
import { decodeCursor, encodeCursor } from '#http/cursor.ts';

const KEY = { PK: 'GROUP#g1', SK: 'MEMBER#acme#LAPTOP-1' };

describe('encodeCursor / decodeCursor', () => {
  it('round-trips the key for the list it was issued for', () => {
    const cursor = encodeCursor('members:g1:', KEY);
    expect(typeof cursor).toBe('string');
    expect(decodeCursor('members:g1:', cursor ?? undefined)).toEqual(KEY);
  });

  it('gives null when there is no next page and undefined when no cursor is sent', () => {
    expect(encodeCursor('members:g1:', undefined)).toBeNull();
    expect(decodeCursor('members:g1:', undefined)).toBeUndefined();
  });

  it('is not the raw key', () => {
    const cursor = encodeCursor('members:g1:', KEY) ?? '';
    expect(cursor).not.toContain('GROUP#g1');
    expect(() => JSON.parse(cursor)).toThrow();
  });

  it('rejects a cursor issued for another list', () => {
    const cursor = encodeCursor('members:g1:', KEY) ?? '';
    expect(() => decodeCursor('members:g2:', cursor)).toThrow(ValidationError);
  });

  it('rejects a cursor whose payload was altered', () => {
    // Prepare: swap the payload for another key's, keeping the checksum.
    const cursor = encodeCursor('members:g1:', KEY) ?? '';
    const [prefix, , sum] = cursor.split('.');
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ PK: 'GROUP#g2', SK: 'x' })).toString('base64url')}.${sum}`;

    // Act / Assess
    expect(() => decodeCursor('members:g1:', forged)).toThrow(ValidationError);
  });

  it.each([
    ['a raw key', JSON.stringify(KEY)],
    ['base64 of a raw key', Buffer.from(JSON.stringify(KEY)).toString('base64url')],
    ['garbage', 'abc'],
    ['the prefix only', 'kw1.'],
    ['too many parts', 'kw1.a.b.c'],
  ])('rejects %s with a ValidationError on the cursor', (_what, cursor) => {
    let error: unknown;
    try {
      decodeCursor('members:g1:', cursor);
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([{ path: 'cursor', message: expect.any(String) }]);
  });
});
