// Parsing of criterion values and fact values: numbers, instants, day counts, group ids.

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal number written as text (`"42"`, `"-1.5"`, `"1e3"`); undefined otherwise. */
export function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : undefined;
}

/** ISO-8601: a calendar date (UTC midnight) or a date-time with an explicit zone (Z or ±hh:mm). */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i;

/** Epoch milliseconds of a criterion's date value; undefined when it is not such an ISO string. */
export function parseInstant(text: string): number | undefined {
  const m = ISO_INSTANT.exec(text.trim());
  if (m === null) return undefined;
  const ms = Date.parse(m[4] === undefined ? `${m[0]}T00:00:00Z` : m[0]);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-30 over into March; a criterion that names no real day is a mistake.
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return day.getUTCMonth() === Number(m[2]) - 1 && day.getUTCDate() === Number(m[3]) ? ms : undefined;
}

/** A non-negative number of days (fractions allowed); undefined otherwise. */
export function parseDays(text: string): number | undefined {
  const n = parseNumber(text);
  return n !== undefined && n >= 0 ? n : undefined;
}

/** Ids: 1–128 characters (code points), none of `/`, `?`, `#` or whitespace (DESIGN §1). */
const ID = /^[^/?#\s]+$/u;

export function isValidId(id: string): boolean {
  if (!ID.test(id)) return false;
  let n = 0;
  for (const _ of id) if (++n > 128) return false;
  return true;
}
