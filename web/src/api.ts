// The page's only way to the API: same origin, the session cookie (HttpOnly, sent by the browser),
// reads only. The admin secret is used once, to sign POST /v1/session, and never stored.
export class SignedOut extends Error {}

const CSRF_KEY = 'keywatch.csrf';

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Exchanges the admin secret for a session cookie; the secret goes out of scope when this returns. */
export async function signIn(secret: string): Promise<void> {
  const body = '{}';
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = await hmacHex(secret, `${ts}.POST./v1/session.${body}`);
  const res = await fetch('/v1/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'content-type': 'application/json',
      'x-keywatch-timestamp': ts,
      'x-keywatch-signature': `v1=${signature}`,
    },
    body,
  });
  if (res.status === 401) throw new Error('That secret was not accepted.');
  if (!res.ok) throw new Error(`Sign-in failed (${res.status}).`);
  // The CSRF token only works together with the HttpOnly cookie; it lets this tab sign out.
  sessionStorage.setItem(CSRF_KEY, ((await res.json()) as { csrf: string }).csrf);
}

export async function signOut(): Promise<void> {
  await fetch('/v1/session', {
    method: 'DELETE',
    credentials: 'same-origin',
    headers: { 'x-keywatch-csrf': sessionStorage.getItem(CSRF_KEY) ?? '' },
  });
  sessionStorage.removeItem(CSRF_KEY);
}

export async function get<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) throw new SignedOut();
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

export interface CompanyLine {
  companyId: string;
  name: string | null;
  endpoints: number;
  failed: number;
  keyMissing: number;
  notReporting7d: number;
  staleAsOf: string | null;
}
export interface Transition {
  transitionId: string;
  groupId: string;
  groupName: string;
  endpointId: string;
  hostname: string | null;
  companyId: string;
  companyName: string | null;
  event: 'entered' | 'exited';
  occurredAt: string;
  statusText: string | null;
}
export interface CompanyEndpoint {
  endpointId: string;
  siteId: string;
  hostname: string | null;
  status: string | null;
  observedAt: string;
  since: string | null;
  groups: string[];
}
export interface GroupLine {
  id: string;
  name: string;
  description?: string;
  memberCount: number;
  alert: { on: string[]; severity?: string } | null;
}
export interface EndpointView {
  endpoint: {
    endpointId: string;
    companyId: string;
    siteId: string;
    hostname: string | null;
    osType: string | null;
    endpointType: string | null;
    observedAt: string;
    fields: Record<string, unknown>;
  };
  company: { companyId: string; name: string | null };
  site: { siteId: string; name: string | null };
  effectiveFields: Record<string, unknown>;
  groups: string[];
  transitions: Transition[];
}

export const FAILED = 'bitlocker-key-backup-failed';
export const MISSING = 'bitlocker-key-missing';
