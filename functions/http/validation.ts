// zod (mini, for bundle size) helpers shared by route schemas: ids, and turning zod issues into the
// `{ path, message }` details of DESIGN §4.
import * as z from 'zod/mini';
// Only the English messages: `z.locales` would pull every locale (≈250 KB) into the bundle.
import en from 'zod/v4/locales/en.js';
import { type ProblemDetail, ValidationError } from '#core/errors.ts';
import { ID_PATTERN } from '#core/ids.ts';

z.config(en());

export const Id = z.string().check(z.regex(ID_PATTERN, 'must be 1-128 characters without /, ?, # or spaces'));

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(body)' : out;
}

/** Parses or throws a ValidationError listing every problem with its path. */
export function parseOrThrow<T>(schema: z.ZodMiniType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details: ProblemDetail[] = result.error.issues.flatMap((issue) =>
    // An unknown property is named by its own path, not by its parent's.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: formatPath([...issue.path, key]),
          message: 'is not a known property',
        }))
      : [{ path: formatPath(issue.path), message: issue.message }],
  );
  throw new ValidationError(`Invalid ${what}`, details);
}

export function fail(what: string, details: ProblemDetail[]): never {
  throw new ValidationError(`Invalid ${what}`, details);
}

/**
 * Whether a parsed JSON value nests containers (objects, arrays) deeper than `max` levels. Iterative,
 * so a hostile body cannot overflow the stack here, which is the point: recursive code downstream
 * (zod, the criteria parser, the SDK marshaller) would.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
