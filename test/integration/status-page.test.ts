// The status page's API through the `npm start` wiring: per-company counters kept from the stream
// (first reports, company moves, transitions of Failed and Key Missing), idempotent under redelivery,
// the hourly not-reporting census, a company's endpoints, and the session cookie's limits.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { createTallyStore } from '#adapters/tally-store.ts';
import { type Client, createClient } from '#local/client.ts';
import { type Pipeline, startPipeline } from '#local/pipeline.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';

let pipeline: Pipeline;
let client: Client;
const tableName = `status-${randomBytes(4).toString('hex')}`;
const tally = () =>
  createTallyStore(documentClient(createDynamoClient(pipeline.dynamodbEndpoint)), tableName);

const report = (
  endpointId: string,
  companyId: string,
  status: string,
  observedAt = new Date().toISOString(),
) => ({
  endpointId,
  companyId,
  siteId: 'hq',
  hostname: endpointId,
  osType: 'Windows',
  endpointType: 'Laptop',
  observedAt,
  fields: { 'BitLocker Key Backup Status': status },
});

async function companies() {
  const res = await client.request('GET', '/v1/companies');
  expect(res.status).toBe(200);
  return (res.body as { companies: Record<string, unknown>[] }).companies;
}

beforeAll(async () => {
  pipeline = await startPipeline({
    port: 0,
    dynamodbEndpoint: await dynamoEndpoint(),
    tableName,
    secret: 'status-secret',
    pollIntervalMs: 50,
    log: () => undefined,
    publisher: { publish: async () => undefined } as never,
  });
  client = createClient({ url: pipeline.url, secret: 'status-secret' });
  await pipeline.drained();
});

afterAll(async () => {
  await pipeline?.stop();
});

describe('per-company summary', () => {
  it('counts endpoints, Failed and Key Missing per company from the stream', async () => {
    const res = await client.request('POST', '/v1/endpoints/status', {
      updates: [
        report('A-1', 'alpha', SCRIPT_OUTPUT.failed),
        report('A-2', 'alpha', SCRIPT_OUTPUT.keyNotFound),
        report('A-3', 'alpha', SCRIPT_OUTPUT.success),
        report('B-1', 'beta', SCRIPT_OUTPUT.success),
      ],
    });
    expect(res.status).toBe(200);
    await pipeline.drained();
    await client.request('PUT', '/v1/companies/alpha', { name: 'Alpha Ltd' });
    expect(await companies()).toEqual([
      expect.objectContaining({
        companyId: 'alpha',
        name: 'Alpha Ltd',
        endpoints: 3,
        failed: 1,
        keyMissing: 1,
      }),
      expect.objectContaining({ companyId: 'beta', name: null, endpoints: 1, failed: 0, keyMissing: 0 }),
    ]);
  });

  it('follows recoveries and company moves', async () => {
    const later = new Date(Date.now() + 1000).toISOString();
    await client.request('POST', '/v1/endpoints/status', {
      updates: [
        report('A-1', 'alpha', SCRIPT_OUTPUT.success, later),
        { ...report('A-2', 'beta', SCRIPT_OUTPUT.keyNotFound, later) },
      ],
    });
    await pipeline.drained();
    const lines = await companies();
    expect(lines.find((c) => c.companyId === 'alpha')).toMatchObject({
      endpoints: 2,
      failed: 0,
      keyMissing: 0,
    });
    expect(lines.find((c) => c.companyId === 'beta')).toMatchObject({
      endpoints: 2,
      failed: 0,
      keyMissing: 1,
    });
  });

  it('applies a redelivered or older transition once', async () => {
    const store = tally();
    const t = {
      endpointId: 'B-1',
      groupId: 'bitlocker-key-backup-failed' as const,
      companyId: 'beta',
      occurredAt: '2099-01-01T00:00:00.000Z',
      transitionId: 'x1',
    };
    expect(await store.transition({ ...t, event: 'entered' })).toBe(true);
    expect(await store.transition({ ...t, event: 'entered' })).toBe(false);
    expect(await store.transition({ ...t, event: 'exited', occurredAt: '2098-01-01T00:00:00.000Z' })).toBe(
      false,
    );
    expect((await companies()).find((c) => c.companyId === 'beta')).toMatchObject({ failed: 1 });
    await store.transition({ ...t, event: 'exited', occurredAt: '2099-01-02T00:00:00.000Z' });
    expect((await companies()).find((c) => c.companyId === 'beta')).toMatchObject({ failed: 0 });
  });

  it('counts endpoints not reporting for 7 days in the hourly census, once per hour', async () => {
    const store = tally();
    const inEightDays = Date.now() + 8 * 24 * 3600_000;
    await client.request('POST', '/v1/endpoints/status', {
      updates: [report('B-2', 'beta', SCRIPT_OUTPUT.success, new Date(Date.now() + 2000).toISOString())],
    });
    await pipeline.drained();
    // The start-up tick may have run one already; a census an hour later is due in any case.
    expect(await store.censusIfDue(inEightDays)).toBe(true);
    expect(await store.censusIfDue(inEightDays + 60_000)).toBe(false);
    const lines = await companies();
    expect(lines.find((c) => c.companyId === 'alpha')).toMatchObject({ notReporting7d: 2 });
    expect(lines.find((c) => c.companyId === 'beta')).toMatchObject({ notReporting7d: 3 });
  });
});

describe('company endpoints', () => {
  it('lists the endpoints of a company in a group with status text and since', async () => {
    const res = await client.request('GET', '/v1/companies/beta/endpoints?groupId=bitlocker-key-missing');
    expect(res.status).toBe(200);
    const body = res.body as { endpoints: Record<string, unknown>[]; cursor: string | null };
    expect(body.endpoints).toEqual([
      expect.objectContaining({
        endpointId: 'A-2',
        status: SCRIPT_OUTPUT.keyNotFound,
        since: expect.any(String),
      }),
    ]);
    expect(body.cursor).toBeNull();
  });

  it('pages all endpoints of a company', async () => {
    const first = await client.request('GET', '/v1/companies/beta/endpoints?limit=2');
    const page = first.body as { endpoints: { endpointId: string }[]; cursor: string };
    expect(page.endpoints).toHaveLength(2);
    const second = await client.request('GET', `/v1/companies/beta/endpoints?limit=2&cursor=${page.cursor}`);
    const rest = second.body as { endpoints: { endpointId: string }[]; cursor: string | null };
    expect([...page.endpoints, ...rest.endpoints].map((e) => e.endpointId).sort()).toEqual([
      'A-2',
      'B-1',
      'B-2',
    ]);
    expect(rest.cursor).toBeNull();
  });

  it('answers 404 for an unknown group and 400 for a bad limit', async () => {
    expect((await client.request('GET', '/v1/companies/beta/endpoints?groupId=nope')).status).toBe(404);
    expect((await client.request('GET', '/v1/companies/beta/endpoints?limit=0')).status).toBe(400);
  });
});

describe('session cookie', () => {
  async function signIn() {
    const res = await client.request('POST', '/v1/session', {});
    expect(res.status).toBe(201);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^kw_session=v1\.[^;]+; Path=\/v1; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    return { cookie: cookie.split(';')[0] as string, csrf: (res.body as { csrf: string }).csrf };
  }
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    fetch(pipeline.url + path, { method, headers, ...(body === undefined ? {} : { body }) });

  it('reads with the cookie alone', async () => {
    const { cookie } = await signIn();
    const res = await send('GET', '/v1/companies', { cookie });
    expect(res.status).toBe(200);
    expect((await send('GET', '/v1/groups', { cookie })).status).toBe(200);
  });

  it('cannot write with the cookie, even with its CSRF token', async () => {
    const { cookie, csrf } = await signIn();
    const put = await send(
      'PUT',
      '/v1/companies/alpha',
      { cookie, 'x-keywatch-csrf': csrf, 'content-type': 'application/json' },
      '{"name":"x"}',
    );
    expect(put.status).toBe(403);
    expect((await send('POST', '/v1/session', { cookie, 'x-keywatch-csrf': csrf })).status).toBe(403);
  });

  it('signs out only with the CSRF token', async () => {
    const { cookie, csrf } = await signIn();
    expect((await send('DELETE', '/v1/session', { cookie })).status).toBe(403);
    const out = await send('DELETE', '/v1/session', { cookie, 'x-keywatch-csrf': csrf });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  it('refuses a forged, tampered or foreign cookie with 401', async () => {
    const { cookie } = await signIn();
    const tampered = `${cookie.slice(0, -1)}${cookie.endsWith('0') ? '1' : '0'}`;
    expect((await send('GET', '/v1/companies', { cookie: tampered })).status).toBe(401);
    expect((await send('GET', '/v1/companies', { cookie: 'kw_session=v1.9999999999.x.y' })).status).toBe(401);
  });
});
