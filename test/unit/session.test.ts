// Session tokens of the status page (functions/core/session.ts): signed by the admin secret, expiring,
// tied to the secret that signed them, and a CSRF token bound to the session.
import { describe, expect, it } from 'vitest';
import {
  csrfOf,
  issueSession,
  SESSION_SECONDS,
  sessionCookie,
  setCookie,
  verifySession,
} from '#core/session.ts';

const NOW = Date.parse('2026-12-07T08:00:00Z');

describe('session tokens', () => {
  it('verify with the secret that signed them until they expire', () => {
    const { token, expiresAt } = issueSession('s1', NOW);
    expect(verifySession(token, ['s0', 's1'], NOW)).toBe('s1');
    expect(verifySession(token, ['s1'], NOW + SESSION_SECONDS * 1000 - 1)).toBe('s1');
    expect(verifySession(token, ['s1'], NOW + SESSION_SECONDS * 1000)).toBeUndefined();
    expect(Date.parse(expiresAt)).toBe(NOW + SESSION_SECONDS * 1000);
  });

  it('die when the secret is rotated out, and refuse any change', () => {
    const { token } = issueSession('s1', NOW);
    expect(verifySession(token, ['s2'], NOW)).toBeUndefined();
    const later = token.replace(/^v1\.(\d+)/, (_, exp: string) => `v1.${Number(exp) + 3600}`);
    expect(verifySession(later, ['s1'], NOW)).toBeUndefined();
    expect(verifySession('v1.1.x.y', ['s1'], NOW)).toBeUndefined();
  });

  it('bind the CSRF token to the session and the secret', () => {
    const a = issueSession('s1', NOW);
    const b = issueSession('s1', NOW);
    expect(a.csrf).toBe(csrfOf('s1', a.token));
    expect(a.csrf).not.toBe(b.csrf);
    expect(csrfOf('s2', a.token)).not.toBe(a.csrf);
  });
});

describe('session cookie', () => {
  it('is HttpOnly, SameSite=Strict, scoped to /v1, Secure where asked', () => {
    expect(setCookie('t', false)).toBe('kw_session=t; Path=/v1; Max-Age=28800; HttpOnly; SameSite=Strict');
    expect(setCookie('t', true)).toMatch(/; Secure$/);
  });

  it('is found among other cookies', () => {
    expect(sessionCookie('a=1; kw_session=v1.2.x.y; b=2')).toBe('v1.2.x.y');
    expect(sessionCookie('a=1')).toBeUndefined();
    expect(sessionCookie(undefined)).toBeUndefined();
  });
});
