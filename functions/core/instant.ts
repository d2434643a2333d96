// ISO-8601 instants, parsed one way everywhere: report times, Date field values, criterion values and
// the Date facts the criteria engine compares.

/** A calendar date, optionally with a time and then an explicit zone (Z or ±hh:mm). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

interface Parsed {
  readonly ms: number;
  /** Fraction of a second as written, without the dot ('' when none). */
  readonly fraction: string;
}

function parse(text: string, dateOnly: boolean): Parsed | undefined {
  const m = ISO.exec(text);
  if (m === null || (m[4] === undefined && !dateOnly)) return undefined;
  // Date.parse rolls 2024-02-30 over into March; a day the month does not have is no date.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  const ms = Date.parse(m[4] === undefined ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : { ms, fraction: m[5]?.slice(1) ?? '' };
}

/** Epoch milliseconds of a date-time with an explicit zone; undefined for anything else. */
export function parseIsoInstant(value: string): number | undefined {
  return parse(value, false)?.ms;
}

/** Epoch milliseconds of a criterion's date value: also a bare date (UTC midnight), spaces around ignored. */
export function parseIsoDateOrInstant(value: string): number | undefined {
  return parse(value.trim(), true)?.ms;
}

/**
 * A key that orders instants exactly, to the nanosecond a client may send (`.123456789`): the UTC
 * date-time to the second, then nine fraction digits, e.g. `2026-11-26T10:00:00.123456000Z`. Keys of
 * the same length compare as strings, which is how DynamoDB's condition orders reports.
 */
export function instantKey(value: string): string | undefined {
  const parsed = parse(value, false);
  if (parsed === undefined) return undefined;
  const wholeSeconds = Math.floor(parsed.ms / 1000) * 1000;
  return `${new Date(wholeSeconds).toISOString().slice(0, 19)}.${parsed.fraction.padEnd(9, '0')}Z`;
}

/**
 * An instant to the nanosecond as epoch milliseconds (rounded down) and the nanoseconds beyond them
 * (0–999,999, the fraction's digits after the third: a zone shifts whole minutes only).
 */
export interface InstantParts {
  readonly ms: number;
  readonly subNs: number;
}

function partsOf(parsed: Parsed | undefined): InstantParts | undefined {
  if (parsed === undefined) return undefined;
  return { ms: parsed.ms, subNs: Number(parsed.fraction.padEnd(9, '0').slice(3)) };
}

/** InstantParts of a date-time with an explicit zone (a Date fact). */
export function instantParts(value: string): InstantParts | undefined {
  return partsOf(parse(value, false));
}

/** InstantParts of a criterion's date value: also a bare date (UTC midnight), spaces around ignored. */
export function dateOrInstantParts(value: string): InstantParts | undefined {
  return partsOf(parse(value.trim(), true));
}
