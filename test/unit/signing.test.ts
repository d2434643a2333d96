// Request signing as DESIGN §4 states it: `v1=` + hex HMAC-SHA256 over `<ts>.<METHOD>.<target>.<body>`,
// several secrets valid at once, a 300 s window either way. The expected MACs are computed here with
// node:crypto, not with the module under test.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSecrets, sign, verify } from '#core/signing.ts';

const NOW_S = 1_750_000_000;
const NOW_MS = NOW_S * 1000;

function mac(secret: string, message: string): string {
  return `v1=${createHmac('sha256', secret).update(message, 'utf8').digest('hex')}`;
}

function request(over: Partial<Parameters<typeof verify>[0]> = {}) {
  const timestamp = String(NOW_S);
  const target = '/v1/endpoints/status';
  const body = '{"updates":[]}';
  return {
    timestamp,
    method: 'POST',
    target,
    body,
    signature: mac('s3cret', `${timestamp}.POST.${target}.${body}`),
    ...over,
  };
}

describe('sign', () => {
  it('produces v1= and the hex HMAC-SHA256 of timestamp, method, target and body joined by dots', () => {
    // Prepare
    const message = `${NOW_S}.PUT./v1/companies/acme?x=%2F.{"name":"Acme"}`;

    // Act
    const signature = sign('k', String(NOW_S), 'PUT', '/v1/companies/acme?x=%2F', '{"name":"Acme"}');

    // Assess
    expect(signature).toBe(mac('k', message));
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
  });

  it('signs a GET over an empty body', () => {
    expect(sign('k', String(NOW_S), 'GET', '/v1/groups', '')).toBe(mac('k', `${NOW_S}.GET./v1/groups.`));
  });
});

describe('verify', () => {
  it('accepts a request signed with the secret', () => {
    expect(verify(request(), ['s3cret'], NOW_MS)).toEqual({ ok: true });
  });

  it('accepts a request signed with any one of several active secrets (rotation)', () => {
    // Prepare
    const secrets = ['old-secret', 's3cret', 'next-secret'];
    const withNext = request({
      signature: mac('next-secret', `${NOW_S}.POST./v1/endpoints/status.{"updates":[]}`),
    });

    // Act / Assess
    expect(verify(request(), secrets, NOW_MS).ok).toBe(true);
    expect(verify(withNext, secrets, NOW_MS).ok).toBe(true);
    expect(verify(withNext, ['s3cret'], NOW_MS).ok).toBe(false);
  });

  it('rejects a signature made with a secret that is not active', () => {
    expect(verify(request(), ['other'], NOW_MS).ok).toBe(false);
  });

  it.each([
    ['method', { method: 'PUT' }],
    ['path', { target: '/v1/endpoints/status2' }],
    ['query', { target: '/v1/endpoints/status?x=1' }],
    ['percent-encoding of the target', { target: '/v1/endpoints/%73tatus' }],
    ['body', { body: '{"updates":[ ]}' }],
    ['timestamp', { timestamp: String(NOW_S + 1) }],
  ])('rejects a signature that covers a different %s', (_what, change) => {
    expect(verify(request(change), ['s3cret'], NOW_MS).ok).toBe(false);
  });

  it('rejects missing headers', () => {
    expect(verify(request({ signature: undefined }), ['s3cret'], NOW_MS).ok).toBe(false);
    expect(verify(request({ timestamp: undefined }), ['s3cret'], NOW_MS).ok).toBe(false);
  });

  it.each([
    ['without the v1= prefix', (s: string) => s.slice(3)],
    ['with another version', (s: string) => `v2=${s.slice(3)}`],
    ['truncated', (s: string) => s.slice(0, -2)],
    ['empty', () => ''],
  ])('rejects a signature %s', (_what, mangle) => {
    const good = request();
    expect(verify({ ...good, signature: mangle(good.signature) }, ['s3cret'], NOW_MS).ok).toBe(false);
  });

  it('accepts the same MAC written in upper-case hex (PowerShell X2 formatting)', () => {
    const good = request();
    const upper = `V1=${good.signature.slice(3).toUpperCase()}`;
    expect(verify({ ...good, signature: upper }, ['s3cret'], NOW_MS).ok).toBe(true);
  });

  it.each([
    ['exactly 300 s old', -300, true],
    ['exactly 300 s ahead', 300, true],
    ['301 s old', -301, false],
    ['301 s ahead', 301, false],
  ])('treats a timestamp %s as %s', (_what, offset, ok) => {
    // Prepare
    const timestamp = String(NOW_S + offset);
    const signed = request({
      timestamp,
      signature: mac('s3cret', `${timestamp}.POST./v1/endpoints/status.{"updates":[]}`),
    });

    // Act / Assess
    expect(verify(signed, ['s3cret'], NOW_MS).ok).toBe(ok);
  });

  it('rejects a 300 s old timestamp once the server clock has moved past the second', () => {
    const timestamp = String(NOW_S - 300);
    const signed = request({
      timestamp,
      signature: mac('s3cret', `${timestamp}.POST./v1/endpoints/status.{"updates":[]}`),
    });
    expect(verify(signed, ['s3cret'], NOW_MS + 500).ok).toBe(false);
  });

  it.each(['abc', '1.5e9', '-1', '', ' 1750000000'])(
    'rejects the non-numeric timestamp "%s"',
    (timestamp) => {
      const signed = request({
        timestamp,
        signature: mac('s3cret', `${timestamp}.POST./v1/endpoints/status.{"updates":[]}`),
      });
      expect(verify(signed, ['s3cret'], NOW_MS).ok).toBe(false);
    },
  );
});

describe('parseSecrets', () => {
  it('reads a comma-separated list, trimming blanks', () => {
    expect(parseSecrets(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
  });

  it('reads the JSON form', () => {
    expect(parseSecrets('{"secrets":["a","b"]}')).toEqual(['a', 'b']);
  });
});
