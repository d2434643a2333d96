// Opaque pagination cursors: a versioned, checksummed wrapper around DynamoDB's LastEvaluatedKey and
// the list it belongs to, so a cursor this API did not issue (or issued for another list) is a 400,
// never a raw key handed to DynamoDB.
import { createHash } from 'node:crypto';
import { ValidationError } from '#core/errors.ts';

const PREFIX = 'kw1.';

function checksum(list: string, payload: string): string {
  return createHash('sha256').update(`${list}\n${payload}`).digest('base64url').slice(0, 16);
}

export function encodeCursor(list: string, key: Record<string, unknown> | undefined): string | null {
  if (key === undefined) return null;
  const payload = Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
  return `${PREFIX}${payload}.${checksum(list, payload)}`;
}

export function decodeCursor(list: string, cursor: string | undefined): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () =>
    new ValidationError('Invalid cursor', [{ path: 'cursor', message: 'not a cursor issued for this list' }]);
  if (!cursor.startsWith(PREFIX)) throw invalid();
  const [payload, sum] = cursor.slice(PREFIX.length).split('.');
  if (payload === undefined || sum === undefined || checksum(list, payload) !== sum) throw invalid();
  try {
    const key: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid();
    return key as Record<string, unknown>;
  } catch {
    throw invalid();
  }
}
