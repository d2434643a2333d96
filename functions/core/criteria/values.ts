// Parsing of criterion values and fact values: numbers and day counts (instants: ../instant.ts).

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal number written as text (`"42"`, `"-1.5"`, `"1e3"`); undefined otherwise. */
export function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : undefined;
}

/** A non-negative number of days (fractions allowed); undefined otherwise. */
export function parseDays(text: string): number | undefined {
  const n = parseNumber(text);
  return n !== undefined && n >= 0 ? n : undefined;
}

const DAY_NS = 86_400_000_000_000n;

/**
 * N days (decimal text, N ≥ 0) as whole milliseconds and the nanoseconds beyond them, rounded down to
 * the nanosecond, computed exactly: `2.3 * 86_400_000` in floating point is 198719999.99999997, which
 * made an age of exactly 2.3 days "older than 2.3 days". Undefined for anything but such a number.
 */
export function parseDaySpan(text: string): { readonly ms: number; readonly ns: number } | undefined {
  if (parseDays(text) === undefined) return undefined;
  const m = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (m === null) return undefined;
  const fraction = m[2] ?? '';
  const exponent = Number(m[3] ?? '0') - fraction.length;
  let span = BigInt(`${m[1] ?? ''}${fraction}` || '0') * DAY_NS;
  span = exponent >= 0 ? span * 10n ** BigInt(exponent) : span / 10n ** BigInt(-exponent);
  return { ms: Number(span / 1_000_000n), ns: Number(span % 1_000_000n) };
}
