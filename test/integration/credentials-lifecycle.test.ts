// Revocation within the documented bound (the key cache TTL, short here), webhooks mapped onto the
// status route, and no credential in any log line, with the functions logging at DEBUG.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { errorOf, SECRETS, update, useApi } from '#test/helpers/api.ts';

const STATUS = 'BitLocker Key Backup Status';
const CACHE_MS = 300;
const api = useApi(undefined, { keyCacheMs: CACHE_MS, logLevel: 'DEBUG' });

let logged: string[] = [];
beforeEach(() => {
  logged = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write);
  }
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function createKey(companyId: string, body: Record<string, unknown> = {}) {
  const res = await api.client.request('POST', `/v1/companies/${companyId}/keys`, body);
  expect(res.status, res.text).toBe(201);
  return res.body as { keyId: string; key: string };
}

describe('revocation', () => {
  it('stops a key within the cache TTL, for signed and bearer use alike', async () => {
    const { keyId, key } = await createKey('acme');
    const signed = api.clientWith(key);
    const bearer = api.clientWith(key, true);
    const report = () => ({ updates: [update()] });
    expect((await signed.request('POST', '/v1/endpoints/status', report())).status).toBe(200);
    expect((await bearer.request('POST', '/v1/endpoints/status', report())).status).toBe(200);

    const revoked = await api.client.request('DELETE', `/v1/companies/acme/keys/${keyId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ keyId, revokedAt: expect.any(String) });
    await new Promise((r) => setTimeout(r, CACHE_MS + 50));

    expect((await signed.request('POST', '/v1/endpoints/status', report())).status).toBe(401);
    expect((await bearer.request('POST', '/v1/endpoints/status', report())).status).toBe(401);
    const list = await api.client.request('GET', '/v1/companies/acme/keys');
    expect(list.body).toMatchObject({ keys: [{ keyId, revokedAt: expect.any(String) }] });
  });

  it('revokes idempotently: a second DELETE answers the same record', async () => {
    const { keyId } = await createKey('acme');
    const first = await api.client.request('DELETE', `/v1/companies/acme/keys/${keyId}`);
    const second = await api.client.request('DELETE', `/v1/companies/acme/keys/${keyId}`);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
  });
});

describe('webhooks', () => {
  const event = (over: Record<string, unknown> = {}) => ({
    deviceId: `WH-${Math.random().toString(36).slice(2)}`,
    hostname: 'LAPTOP-9',
    companyId: 'acme',
    siteId: 'hq',
    field: STATUS,
    value: '| C: - FAILED - 123456-789012; Azure AD |',
    timestamp: new Date(Date.now() - 1000).toISOString(),
    rmmAlertId: 'ignored extra property',
    ...over,
  });

  it('maps the generic shape to a status update with the same results', async () => {
    const { key } = await createKey('acme');
    const e = event();
    const res = await api.clientWith(key, true).request('POST', '/v1/webhooks/generic', e);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ results: [{ endpointId: e.deviceId, result: 'applied' }] });
    const again = await api.clientWith(key, true).request('POST', '/v1/webhooks/generic', e);
    expect(again.body).toEqual({ results: [{ endpointId: e.deviceId, result: 'unchanged' }] });
    const stored = await api.client.request('GET', `/v1/endpoints/${e.deviceId}`);
    expect(stored.body).toMatchObject({
      endpoint: { companyId: 'acme', siteId: 'hq', hostname: 'LAPTOP-9', fields: { [STATUS]: e.value } },
    });
  });

  it('takes Unix seconds as the timestamp, and company and site from a site key when left out', async () => {
    const { key } = await createKey('acme', { siteId: 'hq' });
    const seconds = Math.floor(Date.now() / 1000) - 5;
    const e = event({ companyId: undefined, siteId: undefined, timestamp: seconds });
    const res = await api.clientWith(key, true).request('POST', '/v1/webhooks/generic', [e]);
    expect(res.status, res.text).toBe(200);
    const stored = await api.client.request('GET', `/v1/endpoints/${e.deviceId}`);
    expect(stored.body).toMatchObject({
      endpoint: { siteId: 'hq', observedAt: new Date(seconds * 1000).toISOString() },
    });
  });

  it('names every missing property, and writes nothing', async () => {
    const before = await api.scan();
    const res = await api.client.request('POST', '/v1/webhooks/generic', [{ hostname: 'x', field: STATUS }]);
    expect(res.status).toBe(400);
    expect(errorOf(res.body).details).toEqual(
      expect.arrayContaining([
        { path: '[0].deviceId', message: 'is required' },
        { path: '[0].timestamp', message: 'is required' },
      ]),
    );
    expect(await api.scan()).toEqual(before);
  });

  it('applies the status route validation: a field of another level is 400', async () => {
    const res = await api.client.request(
      'POST',
      '/v1/webhooks/generic',
      event({ field: 'Enable BitLocker Key Backup', value: 'Disabled' }),
    );
    expect(res.status).toBe(400);
    // Named by what the webhook sent: the field's value came in as `value`.
    expect(errorOf(res.body).details?.[0]?.path).toBe('value');
  });

  it('answers 404 for an unknown integration, before the body is looked at', async () => {
    const res = await api.client.request('POST', '/v1/webhooks/nosuchrmm', event());
    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBe('not_found');
    const plain = await api.raw({
      method: 'POST',
      target: '/v1/webhooks/nosuchrmm',
      body: '{',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(404);
  });

  it('names problems by the property the webhook sent, for one event and for an array', async () => {
    const one = await api.client.request('POST', '/v1/webhooks/generic', event({ timestamp: 'soon' }));
    expect(errorOf(one.body).details).toEqual([
      { path: 'timestamp', message: expect.stringMatching(/ISO-8601/) },
    ]);
    const many = await api.client.request('POST', '/v1/webhooks/generic', [
      event(),
      event({ deviceId: 'a/b' }),
    ]);
    expect(errorOf(many.body).details?.map((d) => d.path)).toEqual(['[1].deviceId']);
  });

  it('refuses a non-object "fields" beside "field" instead of dropping it', async () => {
    const res = await api.client.request('POST', '/v1/webhooks/generic', event({ fields: 'garbage' }));
    expect(res.status).toBe(400);
    expect(errorOf(res.body).details).toEqual([
      { path: 'fields', message: 'must be an object { name: value }' },
    ]);
  });

  it("refuses a company key's webhook for another company with 403", async () => {
    const { key } = await createKey('acme');
    const res = await api
      .clientWith(key, true)
      .request('POST', '/v1/webhooks/generic', event({ companyId: 'beta' }));
    expect(res.status).toBe(403);
  });
});

describe('logs', () => {
  it('never contain a key or an admin secret, whatever the request', async () => {
    const { key } = await createKey('acme');
    const forged = `${key.slice(0, -2)}AA`;
    await api.clientWith(key).request('POST', '/v1/endpoints/status', { updates: [update()] });
    await api.clientWith(key, true).request('POST', '/v1/endpoints/status', { updates: [update()] });
    await api.clientWith(key).request('GET', '/v1/groups');
    await api.clientWith(forged, true).request('POST', '/v1/endpoints/status', { updates: [update()] });
    await api.clientWith(forged).request('POST', '/v1/endpoints/status', { updates: [update()] });
    await api.clientWith('wrong-secret').request('GET', '/v1/groups');

    const output = logged.join('');
    expect(output).toMatch(/request authentication rejected/); // the logger did run at DEBUG
    for (const secret of [key, key.slice(-43), forged, forged.slice(-43), ...SECRETS]) {
      expect(output).not.toContain(secret);
    }
  });
});

describe('webhook timestamps (found by black-box review: large numbers were a 500)', () => {
  it.each([1e300, 1e16, -1e20, -5, 1.5, 8640000000000001, '99999999999999999', 'yesterday'])(
    'answers 400, never a 5xx, to timestamp %s',
    async (timestamp) => {
      const res = await api.client.request('POST', '/v1/webhooks/generic', {
        deviceId: 'TS-1',
        companyId: 'acme',
        siteId: 'hq',
        field: STATUS,
        value: 'x',
        timestamp,
      });
      expect(res.status, res.text).toBe(400);
      expect(errorOf(res.body).details?.[0]?.path).toBe('timestamp');
    },
  );

  it('reads 10-digit seconds and 13-digit milliseconds alike', async () => {
    const seconds = Math.floor(Date.now() / 1000) - 60;
    for (const [deviceId, timestamp] of [
      ['TS-S', seconds],
      ['TS-MS', seconds * 1000],
      ['TS-STR', String(seconds)],
    ] as const) {
      const res = await api.client.request('POST', '/v1/webhooks/generic', {
        deviceId,
        companyId: 'acme',
        siteId: 'hq',
        field: STATUS,
        value: 'x',
        timestamp,
      });
      expect(res.status, res.text).toBe(200);
      const stored = await api.client.request('GET', `/v1/endpoints/${deviceId}`);
      expect(stored.body).toMatchObject({ endpoint: { observedAt: new Date(seconds * 1000).toISOString() } });
    }
  });
});

describe('an empty bearer token (found by black-box review: it was ignored)', () => {
  it.each(['Bearer', 'Bearer ', 'bearer  '])(
    'answers 401 to %j even with a valid admin signature',
    async (value) => {
      const res = await api.raw({ method: 'GET', target: '/v1/groups', headers: { authorization: value } });
      expect(res.status).toBe(401);
    },
  );
});
