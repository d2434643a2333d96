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
