// Request signing (DESIGN §4): `v1=` + hex HMAC-SHA256 over `<timestamp>.<METHOD>.<target>.<body>`,
// keyed by a shared secret. Several secrets may be active at once for rotation.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_VERSION = 'v1';
export const MAX_CLOCK_SKEW_SECONDS = 300;

export function sign(
  secret: string,
  timestamp: string,
  method: string,
  target: string,
  body: string,
): string {
  const mac = createHmac('sha256', secret)
    .update(`${timestamp}.${method.toUpperCase()}.${target}.${body}`, 'utf8')
    .digest('hex');
  return `${SIGNATURE_VERSION}=${mac}`;
}

export type SignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'missing' | 'timestamp' | 'skew' | 'signature' };

export interface SignedRequest {
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly method: string;
  readonly target: string;
  readonly body: string;
}

/**
 * What can be judged without a secret: both headers present, a timestamp within the skew. Checked
 * first, so a request that cannot be valid costs no key look-up.
 */
export function precheck(req: Pick<SignedRequest, 'timestamp' | 'signature'>, nowMs: number): SignatureCheck {
  if (req.timestamp === undefined || req.signature === undefined) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(req.timestamp)) return { ok: false, reason: 'timestamp' };
  if (Math.abs(nowMs / 1000 - Number(req.timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    return { ok: false, reason: 'skew' };
  }
  return { ok: true };
}

/** Constant-time verification against every active secret; never reveals which part was wrong. */
export function verify(req: SignedRequest, secrets: readonly string[], nowMs: number): SignatureCheck {
  const pre = precheck(req, nowMs);
  if (!pre.ok || req.timestamp === undefined || req.signature === undefined) return pre;
  // A client mid-rotation may send several signatures, comma-separated.
  // Hex is case-insensitive: a client printing upper-case digits signed the same bytes.
  const offered = req.signature
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.startsWith(`${SIGNATURE_VERSION}=`))
    .map((s) => Buffer.from(s, 'utf8'));
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(sign(secret, req.timestamp, req.method, req.target, req.body), 'utf8');
    for (const candidate of offered) {
      // Compare every pair so timing does not reveal which secret or position matched.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  return matched ? { ok: true } : { ok: false, reason: 'signature' };
}

/** Parses the configured secret list: comma-separated, or JSON `{"secrets": [...]}`. */
export function parseSecrets(raw: string): string[] {
  const trimmed = raw.trim();
  if (trimmed.startsWith('{')) {
    const parsed: unknown = JSON.parse(trimmed);
    const list = (parsed as { secrets?: unknown }).secrets;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
      throw new Error('Signing secret JSON must be {"secrets": ["...", ...]}');
    }
    return list.map((s: string) => s.trim()).filter((s) => s !== '');
  }
  return trimmed
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
