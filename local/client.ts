// A small signing HTTP client for keywatch's API: used by `npm run send`, the tests and benchmarks.
import { keyIdOf } from '#core/ingest-key.ts';
import { sign } from '#core/signing.ts';

export interface SignedResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly text: string;
}

export interface ClientOptions {
  readonly url: string;
  /** An admin secret, or an ingest key (`kwk_…`), which signs with `X-Keywatch-Key-Id`. */
  readonly secret: string;
  /** Send the ingest key as `Authorization: Bearer` instead of signing (webhook style). */
  readonly bearer?: boolean;
  readonly nowMs?: () => number;
}

function credentialHeaders(opts: ClientOptions, timestamp: string, signature: () => string) {
  const keyId = keyIdOf(opts.secret);
  if (opts.bearer) {
    if (keyId === undefined) throw new Error('Bearer mode needs an ingest key (kwk_…)');
    return { authorization: `Bearer ${opts.secret}` };
  }
  return {
    ...(keyId !== undefined ? { 'x-keywatch-key-id': keyId } : {}),
    'x-keywatch-timestamp': timestamp,
    'x-keywatch-signature': signature(),
  };
}

export function createClient(opts: ClientOptions) {
  const now = opts.nowMs ?? Date.now;
  return {
    /** Sends an authenticated request; `target` is the path and query exactly as sent. */
    async request(method: string, target: string, body?: unknown, headers: Record<string, string> = {}) {
      const raw = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const timestamp = String(Math.floor(now() / 1000));
      const res = await fetch(opts.url + target, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...credentialHeaders(opts, timestamp, () => sign(opts.secret, timestamp, method, target, raw)),
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
