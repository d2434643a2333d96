// 401 unless the request carries a valid credential; sets `request.internal.principal`. Three ways in:
//   X-Keywatch-Signature alone            HMAC by an admin secret (every route)
//   X-Keywatch-Key-Id + X-Keywatch-Signature   HMAC by that ingest key (status reports of its company)
//   Authorization: Bearer kwk_…           the ingest key itself, for RMM webhooks that cannot sign
//   Cookie kw_session=…                   the status page's session (read routes only, core/session.ts)
// Every failure gets the same answer; the reason is logged, the credential never is.
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type IngestKeyCredential,
  type IngestKeys,
  ingestKeyMatches,
  isKeyId,
  keyIdOf,
} from '#core/ingest-key.ts';
import { precheck, type SignatureCheck, verify } from '#core/signing.ts';
import type { Principal } from '../principal.ts';
import { httpProblem } from '../problem.ts';
import { type ApiMiddleware, type Event, header, methodOf, required } from '../request.ts';

export interface AuthenticateOptions {
  /** Active admin signing secrets (several during rotation). */
  readonly adminSecrets: () => Promise<readonly string[]>;
  readonly ingestKeys?: IngestKeys;
  readonly logger: Logger;
  readonly nowMs: () => number;
  /** True behind API Gateway HTTP API, which decodes `rawPath` before the function sees it. */
  readonly pathArrivesDecoded: boolean;
  /**
   * The status page's session cookies (core/session.ts), admin function only: passed in, so the
   * ingest function neither accepts nor bundles them.
   */
  readonly sessions?: SessionCheck;
}

export interface SessionCheck {
  /** The session token in a Cookie header, if any. */
  readonly cookie: (cookieHeader: string | undefined) => string | undefined;
  /** The secret that signed a valid, unexpired token, else undefined. */
  readonly verify: (token: string, secrets: readonly string[], nowMs: number) => string | undefined;
  readonly csrfOf: (secret: string, token: string) => string;
}

/**
 * The signed target is the path and query exactly as sent. Behind API Gateway's HTTP API the function
 * receives a decoded `rawPath`, so there the canonical RFC 3986 encoding of that path is accepted too,
 * which covers every client that encodes only what must be encoded (docs/decisions.md §8).
 */
export function signingTargets(event: Event, pathArrivesDecoded: boolean): string[] {
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const raw = event.rawPath;
  if (!pathArrivesDecoded) return [raw + query];
  const encoded = raw.split('/').map(encodeURIComponent).join('/');
  return encoded === raw ? [raw + query] : [raw + query, encoded + query];
}

type Outcome = { principal: Principal } | { reason: string; keyId?: string };

export function authenticate(opts: AuthenticateOptions): ApiMiddleware {
  const checkSignature = (event: Event, body: string, secrets: readonly string[]): SignatureCheck => {
    const method = methodOf(event);
    const timestamp = header(event, 'x-keywatch-timestamp');
    const signature = header(event, 'x-keywatch-signature');
    let check: SignatureCheck = { ok: false, reason: 'signature' };
    for (const target of signingTargets(event, opts.pathArrivesDecoded)) {
      check = verify({ timestamp, signature, method, target, body }, secrets, opts.nowMs());
      if (check.ok) break;
    }
    return check;
  };

  const identify = async (event: Event, body: string): Promise<Outcome> => {
    const authorization = header(event, 'authorization');
    const keyIdHeader = header(event, 'x-keywatch-key-id');
    // Another scheme (a proxy's Basic auth, say) is not ours to judge: the signature decides.
    if (authorization !== undefined && /^Bearer(\s|$)/i.test(authorization.trim())) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const keyId = m?.[1] === undefined ? undefined : keyIdOf(m[1]);
      if (m?.[1] === undefined || keyId === undefined) return { reason: 'malformed bearer' };
      const key = await opts.ingestKeys?.find(keyId);
      if (key === undefined) return { reason: 'unknown or revoked key', keyId };
      if (!ingestKeyMatches(keyId, m[1], key.hash)) return { reason: 'bearer mismatch', keyId };
      return { principal: ingestPrincipal(key) };
    }
    if (keyIdHeader !== undefined) {
      const keyId = keyIdHeader.trim();
      if (!isKeyId(keyId)) return { reason: 'malformed key id' };
      const timing = precheck(
        {
          timestamp: header(event, 'x-keywatch-timestamp'),
          signature: header(event, 'x-keywatch-signature'),
        },
        opts.nowMs(),
      );
      if (!timing.ok) return { reason: timing.reason, keyId };
      opts.ingestKeys?.prepareSigning?.();
      const key = await opts.ingestKeys?.find(keyId);
      if (key === undefined) return { reason: 'unknown or revoked key', keyId };
      const check = checkSignature(event, body, [await key.signingKey()]);
      if (!check.ok) return { reason: check.reason, keyId };
      return { principal: ingestPrincipal(key) };
    }
    const sessions = opts.sessions;
    const session = sessions?.cookie(header(event, 'cookie'));
    // A signature wins over a cookie the browser may also send: scripts on the same host keep working.
    if (
      sessions !== undefined &&
      session !== undefined &&
      header(event, 'x-keywatch-signature') === undefined
    ) {
      const secret = sessions.verify(session, await opts.adminSecrets(), opts.nowMs());
      if (secret === undefined) return { reason: 'session' };
      const csrf = header(event, 'x-keywatch-csrf');
      return {
        principal: { kind: 'session', csrf: csrf !== undefined && csrf === sessions.csrfOf(secret, session) },
      };
    }
    const check = checkSignature(event, body, await opts.adminSecrets());
    return check.ok ? { principal: { kind: 'admin' } } : { reason: check.reason };
  };

  return {
    name: 'authenticate',
    before: async (request) => {
      const event = request.event;
      const outcome = await identify(event, required(request.internal, 'rawBody'));
      if ('reason' in outcome) {
        opts.logger.warn('request authentication rejected', {
          reason: outcome.reason,
          ...(outcome.keyId !== undefined ? { keyId: outcome.keyId } : {}),
          method: methodOf(event),
          path: event.rawPath,
        });
        throw httpProblem(401, 'unauthorized', 'Missing, expired or invalid credentials');
      }
      request.internal.principal = outcome.principal;
    },
    // A key's use is recorded once it has done something: a refused request writes nothing at all.
    after: async (request) => {
      const principal = request.internal.principal;
      if (principal?.kind === 'ingest') await opts.ingestKeys?.used(principal.keyId, opts.nowMs());
    },
  };
}

function ingestPrincipal(key: IngestKeyCredential): Principal {
  return {
    kind: 'ingest',
    keyId: key.keyId,
    companyId: key.companyId,
    ...(key.siteId !== undefined ? { siteId: key.siteId } : {}),
  };
}
