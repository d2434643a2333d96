// Scoped credentials through the real handlers on DynamoDB Local: admin secrets keep every route; an
// ingest key (signed with X-Keywatch-Key-Id, or as a bearer token) may only report status for its own
// company and site. 401 is a missing or bad credential, 403 an authenticated one out of bounds, and
// neither writes anything.
import { describe, expect, it } from 'vitest';
import { ROUTES } from '#http/routes.ts';
import { errorOf, update, useApi } from '#test/helpers/api.ts';

const STATUS = 'BitLocker Key Backup Status';
const JSON_HEADERS = { 'content-type': 'application/json' };

interface CreatedKey {
  keyId: string;
  key: string;
  companyId: string;
  siteId: string | null;
}

const api = useApi(async (started) => {
  await started.client.request('POST', '/v1/endpoints/status', {
    updates: [
      update({ endpointId: 'BETA-PC', companyId: 'beta', siteId: 'main', fields: { [STATUS]: 'x' } }),
    ],
  });
});

async function createKey(companyId: string, body: Record<string, unknown> = {}): Promise<CreatedKey> {
  const res = await api.client.request('POST', `/v1/companies/${companyId}/keys`, body);
  expect(res.status, res.text).toBe(201);
  return res.body as CreatedKey;
}

/** A concrete request for every route in the table, with a body that would be valid for admin. */
function sample(route: (typeof ROUTES)[number]): { target: string; body?: unknown } {
  const target = route.path
    .replace('{companyId}', 'acme')
    .replace('{siteId}', 'hq')
    .replace('{endpointId}', 'EP-1')
    .replace('{groupId}', 'bitlocker-key-backup-failed')
    .replace('{keyId}', '0000000000000000')
    .replace('{integration}', 'generic')
    .replace('{level}', 'ENDPOINT')
    .replace('{name}', 'Asset%20Tag');
  if (route.method === 'GET' || route.method === 'DELETE') return { target };
  if (route.name === 'postStatus') return { target, body: { updates: [update()] } };
  if (route.name === 'postWebhook') {
    return {
      target,
      body: { deviceId: 'EP-W', companyId: 'acme', siteId: 'hq', field: STATUS, value: 'x', timestamp: 1 },
    };
  }
  if (route.name === 'putField') return { target, body: { type: 'Text' } };
  return { target, body: {} };
}

describe('every route × credential', () => {
  it.each(ROUTES.map((r) => [r.method, r.path, r] as const))(
    '%s %s: admin passes, an ingest key (signed or bearer) only where access is ingest, nothing else',
    async (_method, _path, route) => {
      const key = await createKey('acme');
      const { target, body } = sample(route);
      const as = {
        admin: api.client,
        signed: api.clientWith(key.key),
        bearer: api.clientWith(key.key, true),
        stranger: api.clientWith('not-a-secret'),
      };
      const before = await api.scan();

      const stranger = await as.stranger.request(route.method, target, body);
      expect(await api.scan(), 'a 401 wrote something').toEqual(before);
      const signed = await as.signed.request(route.method, target, body);
      const bearer = await as.bearer.request(route.method, target, body);
      const afterKeys = await api.scan();
      const admin = await as.admin.request(route.method, target, body);

      expect(stranger.status, stranger.text).toBe(401);
      const allowed = route.access === 'ingest';
      for (const res of [signed, bearer]) {
        if (allowed) expect([200, 201], res.text).toContain(res.status);
        else {
          expect(res.status, res.text).toBe(403);
          expect(errorOf(res.body).code).toBe('forbidden');
        }
      }
      // Refused requests wrote nothing.
      if (!allowed) expect(afterKeys).toEqual(before);
      expect([401, 403]).not.toContain(admin.status);
      expect(api.crashes).toEqual([]);
    },
  );

  it('answers 401, not 403 or 404, to a missing credential on an unknown route', async () => {
    const res = await api.raw({ method: 'GET', target: '/v1/nowhere', secret: null });
    expect(res.status).toBe(401);
  });

  it('answers 404 to an ingest key on an unknown path, as to anyone authenticated', async () => {
    const key = await createKey('acme');
    const res = await api.clientWith(key.key).request('GET', '/v1/nowhere');
    expect(res.status).toBe(404);
  });
});

describe('an ingest key confined to its company and site', () => {
  it('refuses a whole request naming another company, writing nothing', async () => {
    const key = await createKey('acme');
    const before = await api.scan();

    const res = await api.clientWith(key.key).request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'acme' }), update({ companyId: 'beta', siteId: 'main' })],
    });

    expect(res.status, res.text).toBe(403);
    expect(errorOf(res.body).details).toEqual([
      { path: 'updates[1].companyId', message: "is not this key's company (acme)" },
    ]);
    expect(await api.scan()).toEqual(before);
  });

  it('refuses another site for a site key, and allows its own', async () => {
    const key = await createKey('acme', { siteId: 'hq' });
    expect(key.siteId).toBe('hq');
    const client = api.clientWith(key.key);
    const before = await api.scan();

    const other = await client.request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'acme', siteId: 'branch' })],
    });
    expect(other.status).toBe(403);
    expect(await api.scan()).toEqual(before);

    const own = await client.request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'acme', siteId: 'hq' })],
    });
    expect(own.status, own.text).toBe(200);
  });

  it("cannot take over another company's endpoint by naming its id under its own company", async () => {
    const key = await createKey('acme');
    const client = api.clientWith(key.key);
    const before = await api.scan();
    const hijack = update({
      endpointId: 'BETA-PC',
      companyId: 'acme',
      observedAt: new Date().toISOString(),
      fields: { [STATUS]: '| All BitLocker keys are backed up successfully. |' },
    });

    const alone = await client.request('POST', '/v1/endpoints/status', { updates: [hijack] });
    expect(alone.status, alone.text).toBe(403);
    expect(await api.scan()).toEqual(before);

    const own = update({ companyId: 'acme' });
    const mixed = await client.request('POST', '/v1/endpoints/status', { updates: [own, hijack] });
    expect(mixed.status, mixed.text).toBe(200);
    expect((mixed.body as { results: unknown[] }).results).toEqual([
      { endpointId: own.endpointId, result: 'applied' },
      { endpointId: 'BETA-PC', result: 'forbidden' },
    ]);
    const beta = await api.client.request('GET', '/v1/endpoints/BETA-PC');
    expect(beta.body).toMatchObject({ endpoint: { companyId: 'beta', fields: { [STATUS]: 'x' } } });
  });

  it('admin may still move an endpoint between companies', async () => {
    const res = await api.client.request('POST', '/v1/endpoints/status', {
      updates: [update({ endpointId: 'MOVER', companyId: 'beta', siteId: 'main' })],
    });
    expect(res.status).toBe(200);
    const moved = await api.client.request('POST', '/v1/endpoints/status', {
      updates: [update({ endpointId: 'MOVER', companyId: 'acme', observedAt: new Date().toISOString() })],
    });
    expect((moved.body as { results: { result: string }[] }).results[0]?.result).toBe('applied');
  });
});

describe('key lifecycle', () => {
  it('shows the key once: never in the list, in a read-back, or in clear in the table', async () => {
    const created = await createKey('gamma', { description: 'RMM webhook' });
    expect(created.key).toMatch(/^kwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);

    const list = await api.client.request('GET', '/v1/companies/gamma/keys');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      keys: [
        {
          keyId: created.keyId,
          companyId: 'gamma',
          siteId: null,
          description: 'RMM webhook',
          createdAt: expect.any(String),
          lastUsedOn: null,
          revokedAt: null,
        },
      ],
    });
    const secretPart = created.key.slice(-43);
    expect(list.text).not.toContain(secretPart);
    expect(JSON.stringify(await api.scan())).not.toContain(secretPart);
  });

  it('records the day a key was last used', async () => {
    const created = await createKey('delta');
    await api.clientWith(created.key).request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'delta' })],
    });
    const list = await api.client.request('GET', '/v1/companies/delta/keys');
    expect((list.body as { keys: { lastUsedOn: string }[] }).keys[0]?.lastUsedOn).toBe(
      new Date().toISOString().slice(0, 10),
    );
  });

  it('answers 404 when revoking a key of another company or an unknown key', async () => {
    const created = await createKey('acme');
    const other = await api.client.request('DELETE', `/v1/companies/beta/keys/${created.keyId}`);
    expect(other.status).toBe(404);
    const unknown = await api.client.request('DELETE', '/v1/companies/acme/keys/ffffffffffffffff');
    expect(unknown.status).toBe(404);
    // The key still works: the refused revocations changed nothing.
    const res = await api.clientWith(created.key).request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'acme' })],
    });
    expect(res.status).toBe(200);
  });

  it('rejects a malformed create body with 400 naming the property', async () => {
    const res = await api.client.request('POST', '/v1/companies/acme/keys', { site: 'hq' });
    expect(res.status).toBe(400);
    expect(errorOf(res.body).details).toEqual([{ path: 'site', message: 'is not a known property' }]);
  });
});

describe('bearer mode', () => {
  it('accepts the key as a bearer token on the status route only', async () => {
    const key = await createKey('acme');
    const bearer = api.clientWith(key.key, true);

    const ok = await bearer.request('POST', '/v1/endpoints/status', { updates: [update()] });
    expect(ok.status, ok.text).toBe(200);
    expect((await bearer.request('GET', '/v1/transitions')).status).toBe(403);
    expect((await bearer.request('PUT', '/v1/companies/acme', {})).status).toBe(403);
  });

  it('answers 401 to a bearer token that is not a live key', async () => {
    const key = await createKey('acme');
    const forged = `${key.key.slice(0, -1)}${key.key.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [
      forged,
      'kwk_ffffffffffffffff_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'admin',
    ]) {
      const res = await api.raw({
        method: 'POST',
        target: '/v1/endpoints/status',
        body: JSON.stringify({ updates: [update()] }),
        headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
        secret: null,
      });
      expect(res.status, token).toBe(401);
    }
  });

  it('does not accept an admin secret as a bearer token', async () => {
    const res = await api.raw({
      method: 'POST',
      target: '/v1/endpoints/status',
      body: JSON.stringify({ updates: [update()] }),
      headers: { ...JSON_HEADERS, authorization: 'Bearer current-secret' },
      secret: null,
    });
    expect(res.status).toBe(401);
  });
});

describe('signed ingest keys', () => {
  it('refuses a signature by another key under this key id, and a replay after 300 s', async () => {
    const key = await createKey('acme');
    const other = await createKey('acme');
    const body = JSON.stringify({ updates: [update()] });
    const base = { method: 'POST', target: '/v1/endpoints/status', body } as const;

    const wrongKey = await api.raw({
      ...base,
      secret: other.key,
      headers: { ...JSON_HEADERS, 'x-keywatch-key-id': key.keyId },
    });
    expect(wrongKey.status).toBe(401);

    const stale = await api.raw({
      ...base,
      secret: key.key,
      signed: { timestamp: String(Math.floor(Date.now() / 1000) - 301) },
      headers: { ...JSON_HEADERS, 'x-keywatch-key-id': key.keyId },
    });
    expect(stale.status).toBe(401);

    const fresh = await api.raw({
      ...base,
      secret: key.key,
      headers: { ...JSON_HEADERS, 'x-keywatch-key-id': key.keyId },
    });
    expect(fresh.status, fresh.text).toBe(200);
  });

  it('answers 401, never a 5xx, to a malformed or oversized key id', async () => {
    for (const keyId of ['x'.repeat(5000), 'KWK', '../../etc', '0000000000000000 0']) {
      const res = await api.raw({
        method: 'POST',
        target: '/v1/endpoints/status',
        body: JSON.stringify({ updates: [update()] }),
        headers: { ...JSON_HEADERS, 'x-keywatch-key-id': keyId },
      });
      expect(res.status, keyId.slice(0, 20)).toBe(401);
    }
    expect(api.crashes).toEqual([]);
  });

  it('does not let an admin secret sign under a key id', async () => {
    const key = await createKey('acme');
    const res = await api.raw({
      method: 'POST',
      target: '/v1/endpoints/status',
      body: JSON.stringify({ updates: [update()] }),
      headers: { ...JSON_HEADERS, 'x-keywatch-key-id': key.keyId },
    });
    expect(res.status).toBe(401);
  });
});

describe('ingest requests with a key', () => {
  it('cost no key look-up when the timestamp alone already fails them', async () => {
    const key = await createKey('acme');
    api.commands.length = 0;
    const cases: Record<string, string>[] = [
      { 'x-keywatch-key-id': key.keyId },
      { 'x-keywatch-key-id': key.keyId, 'x-keywatch-timestamp': '1', 'x-keywatch-signature': 'v1=00' },
    ];
    for (const headers of cases) {
      const res = await api.raw({
        method: 'POST',
        target: '/v1/endpoints/status',
        body: JSON.stringify({ updates: [update()] }),
        headers: { ...JSON_HEADERS, ...headers },
        secret: null,
      });
      expect(res.status).toBe(401);
    }
    expect(api.commands).toEqual([]);
  });

  it('cost one GetItem for a cold key, then exactly one UpdateItem per update and no reads', async () => {
    const key = await createKey('epsilon');
    const client = api.clientWith(key.key);
    const first = update({ companyId: 'epsilon' });
    api.commands.length = 0;

    await client.request('POST', '/v1/endpoints/status', { updates: [first] });
    const cold = [...api.commands];
    api.commands.length = 0;
    await client.request('POST', '/v1/endpoints/status', {
      updates: [update({ companyId: 'epsilon' }), update({ companyId: 'epsilon' })],
    });
    const warm = [...api.commands];

    // Cold: the key read, the last-used mark (once a day), the report.
    expect(cold.sort()).toEqual(['GetItemCommand', 'UpdateItemCommand', 'UpdateItemCommand']);
    expect(warm).toEqual(['UpdateItemCommand', 'UpdateItemCommand']);
  });
});
