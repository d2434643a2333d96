// Lambda event filtering for the local stream poller: the subset of EventBridge pattern syntax that
// Lambda filter criteria accept and keywatch can use: nested objects, arrays of allowed exact values,
// and the `exists`, `prefix` and `anything-but` rules. Anything else throws, so a pattern the stack
// accepts is never silently treated differently here.

export type FilterPattern = Readonly<Record<string, unknown>>;

/** Lambda delivers a record when it matches any of the patterns; no patterns: every record. */
export function passesFilters(record: unknown, patterns: readonly FilterPattern[]): boolean {
  return patterns.length === 0 || patterns.some((p) => matchesFilter(record, p));
}

export function matchesFilter(record: unknown, pattern: FilterPattern): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const actual = isObject(record) ? record[key] : undefined;
    if (Array.isArray(expected)) {
      if (!matchesAllowed(actual, expected)) return false;
    } else if (isObject(expected)) {
      if (!isObject(actual) || !matchesFilter(actual, expected)) return false;
    } else {
      throw new Error(`Filter pattern "${key}": expected an object or an array of values`);
    }
  }
  return true;
}

function matchesAllowed(actual: unknown, allowed: readonly unknown[]): boolean {
  // As in EventBridge, an array value matches when any of its elements does.
  const candidates = Array.isArray(actual) ? actual : [actual];
  return allowed.some((rule) =>
    isObject(rule) ? matchesRule(actual, rule) : candidates.some((c) => c !== undefined && c === rule),
  );
}

function matchesRule(actual: unknown, rule: Record<string, unknown>): boolean {
  const [name, arg, ...rest] = Object.entries(rule).flat();
  if (rest.length > 0) throw new Error(`Filter rule ${JSON.stringify(rule)}: one operator per rule`);
  switch (name) {
    case 'exists':
      return typeof arg === 'boolean' && (actual !== undefined) === arg;
    case 'prefix':
      return typeof arg === 'string' && typeof actual === 'string' && actual.startsWith(arg);
    case 'anything-but': {
      const excluded = Array.isArray(arg) ? arg : [arg];
      return actual !== undefined && !isObject(actual) && !excluded.includes(actual);
    }
    default:
      throw new Error(`Filter rule ${JSON.stringify(rule)} is not supported by the local stream poller`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
