// Browser sessions for the status page: a signed admin request (POST /v1/session) gets a short-lived
// token in an HttpOnly, SameSite=Strict cookie, which the API accepts on read routes only, so the
// page never keeps the admin secret. The token is signed with the admin secret: rotating the secret
// ends every session. A cookie-authenticated request that writes (only DELETE /v1/session, sign-out)
// must also carry the CSRF token, derived from the session and handed to the page in the body.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'kw_session';
/** A working shift: the page is meant to stay open, the secret is not meant to be typed often. */
export const SESSION_SECONDS = 8 * 60 * 60;

const mac = (secret: string, text: string) => createHmac('sha256', secret).update(text, 'utf8').digest('hex');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function issueSession(
  secret: string,
  nowMs: number,
): { token: string; csrf: string; expiresAt: string } {
  const exp = Math.floor(nowMs / 1000) + SESSION_SECONDS;
  const body = `v1.${exp}.${randomBytes(16).toString('base64url')}`;
  const token = `${body}.${mac(secret, `keywatch-session.${body}`)}`;
  return { token, csrf: csrfOf(secret, token), expiresAt: new Date(exp * 1000).toISOString() };
}

export const csrfOf = (secret: string, token: string) => mac(secret, `keywatch-csrf.${token}`);

/** The secret that signed a valid, unexpired token, or undefined. */
export function verifySession(token: string, secrets: readonly string[], nowMs: number): string | undefined {
  const m = /^(v1\.(\d{1,12})\.[A-Za-z0-9_-]{22})\.([0-9a-f]{64})$/.exec(token);
  if (m === null || Number(m[2]) * 1000 <= nowMs) return undefined;
  return secrets.find((s) => equal(mac(s, `keywatch-session.${m[1]}`), m[3] as string));
}

/** The session cookie's value in a Cookie header, if any. */
export function sessionCookie(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

export function setCookie(token: string, secure: boolean, maxAge = SESSION_SECONDS): string {
  return `${SESSION_COOKIE}=${token}; Path=/v1; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
