// A small signing HTTP client for keywatch's API: used by `npm run send`, the tests and benchmarks.
import { sign } from '#core/signing.ts';

export interface SignedResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly text: string;
}

export interface ClientOptions {
  readonly url: string;
  readonly secret: string;
  readonly nowMs?: () => number;
}

export function createClient(opts: ClientOptions) {
  const now = opts.nowMs ?? Date.now;
  return {
    /** Sends a signed request; `target` is the path and query exactly as sent. */
    async request(method: string, target: string, body?: unknown, headers: Record<string, string> = {}) {
      const raw = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const timestamp = String(Math.floor(now() / 1000));
      const res = await fetch(opts.url + target, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          'x-keywatch-timestamp': timestamp,
          'x-keywatch-signature': sign(opts.secret, timestamp, method, target, raw),
          ...headers,
        },
        ...(body !== undefined ? { body: raw } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed, text } satisfies SignedResponse;
    },
  };
}

export type Client = ReturnType<typeof createClient>;
