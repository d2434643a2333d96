// Failure modes of the HTTP contract (DESIGN §4): the check order, every way authentication fails,
// every class of bad input. Each answers 4xx with `{ error: { code, message, details? } }`, never a
// 5xx, and writes nothing: the table is scanned before and after.
import { beforeEach, describe, expect, it } from 'vitest';
import { errorOf, type RawRequest, SECRETS, update, useApi } from '#test/helpers/api.ts';

const STATUS = 'BitLocker Key Backup Status';
const DISABLE = 'Disable BitLocker Key Backup';
const ENABLE = 'Enable BitLocker Key Backup';
const JSON_HEADERS = { 'content-type': 'application/json' };
const MiB = 1024 * 1024;

// Something to compare against: an endpoint, a company and a site.
const api = useApi(async (started) => {
  await started.client.request('POST', '/v1/endpoints/status', {
    updates: [update({ endpointId: 'EXISTING', fields: { [STATUS]: 'x' } })],
  });
  await started.client.request('PUT', '/v1/companies/acme', {
    name: 'Acme',
    fields: { [ENABLE]: 'Disabled' },
  });
  await started.client.request('PUT', '/v1/companies/acme/sites/hq', { name: 'HQ' });
});
let before: Record<string, unknown>[];

beforeEach(async () => {
  before = await api.scan();
});

function status(updates: unknown): string {
  return JSON.stringify({ updates });
}

/** Sends, then checks what every failure shares: the status, the error shape, no crash, nothing written. */
async function expectRejected(r: RawRequest, expected: number) {
  const res = await api.raw(r);
  expect(res.status, res.text).toBe(expected);
  const error = errorOf(res.body);
  expect(api.crashes).toEqual([]);
  expect(await api.scan()).toEqual(before);
  for (const secret of SECRETS) expect(res.text).not.toContain(secret);
  return { ...res, error };
}

describe('check order', () => {
  it('answers 413 before checking the signature', async () => {
    const body = JSON.stringify({ updates: [update()], pad: 'x'.repeat(MiB) });

    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS, secret: null },
      413,
    );
  });

  it('accepts a body of exactly 1 MiB as far as size goes', async () => {
    // Prepare: a valid JSON body padded with whitespace to exactly 1 MiB; it fails validation instead.
    const json = JSON.stringify({ updates: [] });
    const body = json + ' '.repeat(MiB - Buffer.byteLength(json));

    // Act / Assess
    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
    expect(res.error.details?.[0]?.path).toBe('updates');
  });

  it('counts the body size in bytes, not characters', async () => {
    // 600 Ki three-byte characters: under 1 Mi characters, over 1 MiB.
    const body = JSON.stringify({ updates: [], pad: '€'.repeat(600 * 1024) });

    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      413,
    );
  });

  it.each([
    ['an unknown route', 'GET', '/v1/nothing-here'],
    ['a wrong method', 'DELETE', '/v1/companies/acme'],
  ])('answers 401 before 404 / 405 for %s', async (_what, method, target) => {
    await expectRejected({ method, target, secret: null }, 401);
  });

  it('answers 404 before 415 for an unknown route', async () => {
    await expectRejected(
      {
        method: 'PUT',
        target: '/v1/nothing-here',
        body: 'not json',
        headers: { 'content-type': 'text/plain' },
      },
      404,
    );
  });

  it('answers 405 with Allow before 415 for a wrong method', async () => {
    const res = await expectRejected(
      { method: 'POST', target: '/v1/groups', body: 'not json', headers: { 'content-type': 'text/plain' } },
      405,
    );
    expect(res.headers.allow).toBe('GET');
  });

  it('answers 415 before checking the JSON', async () => {
    await expectRejected(
      {
        method: 'POST',
        target: '/v1/endpoints/status',
        body: '{"updates": [',
        headers: { 'content-type': 'text/plain' },
      },
      415,
    );
  });

  it('answers malformed JSON before validating, with a different code', async () => {
    const malformed = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body: '{"updates": [', headers: JSON_HEADERS },
      400,
    );
    const invalid = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body: '{"updates": []}', headers: JSON_HEADERS },
      400,
    );
    expect(malformed.error.code).not.toBe(invalid.error.code);
  });
});

describe('authentication', () => {
  const body = status([update({ endpointId: 'AUTH-EP' })]);
  const post = (over: Partial<RawRequest>): RawRequest => ({
    method: 'POST',
    target: '/v1/endpoints/status',
    body,
    headers: JSON_HEADERS,
    ...over,
  });

  it.each([
    ['no signature headers', () => post({ secret: null })],
    [
      'only a timestamp',
      () =>
        post({
          secret: null,
          headers: { ...JSON_HEADERS, 'x-keywatch-timestamp': String(Math.floor(Date.now() / 1000)) },
        }),
    ],
    [
      'only a signature',
      () =>
        post({ secret: null, headers: { ...JSON_HEADERS, 'x-keywatch-signature': `v1=${'0'.repeat(64)}` } }),
    ],
    ['a secret that is not active', () => post({ secret: 'some-other-secret' })],
    ['a signature over another path', () => post({ signed: { target: '/v1/endpoints/status?x=1' } })],
    ['a signature over another method', () => post({ signed: { method: 'PUT' } })],
    ['a signature over another body', () => post({ signed: { body: status([update()]) } })],
    ['a signature over an empty body', () => post({ signed: { body: '' } })],
    [
      'a timestamp 301 s old',
      () => post({ signed: { timestamp: String(Math.floor(Date.now() / 1000) - 301) } }),
    ],
    [
      'a timestamp 301 s ahead',
      () => post({ signed: { timestamp: String(Math.floor(Date.now() / 1000) + 301) } }),
    ],
    ['a timestamp in milliseconds', () => post({ signed: { timestamp: String(Date.now()) } })],
  ])('answers 401 to %s', async (_what, request) => {
    await expectRejected(request(), 401);
  });

  it('answers 401 to a bad signature', async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    await expectRejected(
      post({
        secret: null,
        headers: {
          ...JSON_HEADERS,
          'x-keywatch-timestamp': ts,
          'x-keywatch-signature': `v1=${'ab'.repeat(32)}`,
        },
      }),
      401,
    );
  });

  it('answers 401 when the query was left out of the signature', async () => {
    await expectRejected(
      { method: 'GET', target: '/v1/transitions?limit=5', signed: { target: '/v1/transitions' } },
      401,
    );
  });

  it('answers 401 to a GET signed over the body it sends (bodies of GET are signed as empty)', async () => {
    await expectRejected(
      { method: 'GET', target: '/v1/endpoints/EXISTING', body: '{"a":1}', signed: { body: '{"a":1}' } },
      401,
    );
  });

  it('ignores the body of a GET signed as empty', async () => {
    const res = await api.raw({
      method: 'GET',
      target: '/v1/endpoints/EXISTING',
      body: '{"a":1}',
      signed: { body: '' },
    });

    expect(res.status, res.text).toBe(200);
  });

  it('ignores the body and content type of a DELETE signed as empty', async () => {
    const res = await api.raw({
      method: 'DELETE',
      target: '/v1/groups/not-there',
      body: 'garbage',
      headers: { 'content-type': 'text/plain' },
      signed: { body: '' },
    });

    expect(res.status, res.text).toBe(404);
  });

  it('accepts the second active secret (rotation) and a timestamp 290 s old', async () => {
    const ts = String(Math.floor(Date.now() / 1000) - 290);
    const res = await api.raw({
      method: 'GET',
      target: '/v1/endpoints/EXISTING',
      secret: SECRETS[1],
      signed: { timestamp: ts },
    });

    expect(res.status, res.text).toBe(200);
  });

  it('signs the target with its percent-encoding as sent', async () => {
    const res = await api.raw({ method: 'GET', target: '/v1/endpoints/EXIST%49NG?x=%41' });

    expect(res.status, res.text).toBe(200);
    expect((res.body as { endpoint: { endpointId: string } }).endpoint.endpointId).toBe('EXISTING');
  });

  it('rejects a signature over the decoded path when the path was sent encoded', async () => {
    const res = await api.raw({
      method: 'GET',
      target: '/v1/endpoints/EXIST%49NG',
      signed: { target: '/v1/endpoints/EXISTING' },
    });

    expect(res.status, res.text).toBe(401);
  });
});

describe('content type', () => {
  it.each([
    ['missing', {}],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['application/jsonx', { 'content-type': 'application/jsonx' }],
    ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('answers 415 when it is %s', async (_what, headers) => {
    await expectRejected({ method: 'PUT', target: '/v1/companies/acme', body: '{"name":"X"}', headers }, 415);
  });

  it.each(['application/json; charset=utf-8', 'Application/JSON'])('accepts %s', async (contentType) => {
    const res = await api.raw({
      method: 'PUT',
      target: '/v1/companies/acme',
      body: '{"name":"Acme"}',
      headers: { 'content-type': contentType },
    });

    expect(res.status, res.text).toBe(200);
  });
});

describe('bad input to POST /v1/endpoints/status', () => {
  const good = () => update({ endpointId: 'NEW-EP' });

  it.each([
    ['empty', ''],
    ['truncated', '{"updates":[{"endpointId":'],
    ['trailing garbage', '{"updates":[]} x'],
    ['single quotes', "{'updates':[]}"],
    ['NaN', '{"updates":[{"n":NaN}]}'],
  ])('answers 400 to malformed JSON (%s)', async (_what, body) => {
    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['a number', '1'],
    ['true', 'true'],
    ['an object without updates', '{}'],
    ['updates as an object', '{"updates":{}}'],
    ['updates null', '{"updates":null}'],
    ['no updates', '{"updates":[]}'],
    ['an update that is not an object', '{"updates":[1]}'],
    ['an update that is null', '{"updates":[null]}'],
  ])('answers 400 to a body that is %s', async (_what, body) => {
    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
  });

  it('answers 400 to 501 updates', async () => {
    const body = status(Array.from({ length: 501 }, () => good()));

    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
    expect(res.error.details?.[0]?.path).toBe('updates');
  });

  it.each([
    ['endpointId missing', { endpointId: undefined }, 'updates[1].endpointId'],
    ['companyId missing', { companyId: undefined }, 'updates[1].companyId'],
    ['siteId missing', { siteId: undefined }, 'updates[1].siteId'],
    ['observedAt missing', { observedAt: undefined }, 'updates[1].observedAt'],
    ['endpointId empty', { endpointId: '' }, 'updates[1].endpointId'],
    ['endpointId of 129 characters', { endpointId: 'e'.repeat(129) }, 'updates[1].endpointId'],
    ['endpointId with /', { endpointId: 'a/b' }, 'updates[1].endpointId'],
    ['endpointId with ?', { endpointId: 'a?b' }, 'updates[1].endpointId'],
    ['endpointId with #', { endpointId: 'a#b' }, 'updates[1].endpointId'],
    ['endpointId with a space', { endpointId: 'a b' }, 'updates[1].endpointId'],
    ['endpointId a number', { endpointId: 42 }, 'updates[1].endpointId'],
    ['companyId with /', { companyId: 'x/y' }, 'updates[1].companyId'],
    ['siteId with #', { siteId: 'x#y' }, 'updates[1].siteId'],
    ['observedAt without a zone', { observedAt: '2024-05-01T10:00:00' }, 'updates[1].observedAt'],
    ['observedAt a date only', { observedAt: '2024-05-01' }, 'updates[1].observedAt'],
    ['observedAt not a date', { observedAt: 'yesterday' }, 'updates[1].observedAt'],
    ['observedAt a day February lacks', { observedAt: '2024-02-30T10:00:00Z' }, 'updates[1].observedAt'],
    ['observedAt a number', { observedAt: 1714557600000 }, 'updates[1].observedAt'],
    ['osType not an option', { osType: 'Win' }, 'updates[1].osType'],
    ['osType not a string', { osType: 1 }, 'updates[1].osType'],
    ['endpointType not an option', { endpointType: 'VM' }, 'updates[1].endpointType'],
    ['hostname not a string', { hostname: 5 }, 'updates[1].hostname'],
    ['fields an array', { fields: [] }, 'updates[1].fields'],
    ['fields a string', { fields: 'x' }, 'updates[1].fields'],
    [
      'status text over 300 characters',
      { fields: { [STATUS]: 'x'.repeat(301) } },
      `updates[1].fields.${STATUS}`,
    ],
    ['status text not a string', { fields: { [STATUS]: 5 } }, `updates[1].fields.${STATUS}`],
    ['flag not a boolean', { fields: { [DISABLE]: 'false' } }, `updates[1].fields.${DISABLE}`],
    ['a company-level field', { fields: { [ENABLE]: 'Disabled' } }, `updates[1].fields.${ENABLE}`],
    ['an unknown field', { fields: { 'No Such Field': 1 } }, 'updates[1].fields.No Such Field'],
  ])('answers 400 naming the path for %s', async (_what, change, path) => {
    // Prepare: a valid update first, so nothing of a partly valid batch may be written.
    const body = status([good(), { ...good(), ...change }]);

    // Act
    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );

    // Assess
    expect(res.error.details?.map((d) => d.path)).toContain(path);
  });

  it('names the field of the fourth update with the path of DESIGN §1', async () => {
    const updates = [good(), good(), good(), { ...good(), fields: { [STATUS]: '🔑'.repeat(301) } }];

    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body: status(updates), headers: JSON_HEADERS },
      400,
    );

    expect(res.error.details).toEqual([{ path: `updates[3].fields.${STATUS}`, message: expect.any(String) }]);
    expect(res.error.message.length).toBeGreaterThan(0);
  });

  it('reports every problem of the batch', async () => {
    const updates = [
      { ...good(), fields: { [STATUS]: 1 } },
      { ...good(), osType: 'BeOS' },
      { ...good(), fields: { Unknown: true } },
    ];

    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body: status(updates), headers: JSON_HEADERS },
      400,
    );

    expect(res.error.details?.map((d) => d.path).sort()).toEqual(
      [`updates[0].fields.${STATUS}`, 'updates[1].osType', 'updates[2].fields.Unknown'].sort(),
    );
  });

  it('answers 400 to an observedAt more than 300 s ahead, writing none of the batch', async () => {
    const updates = [good(), { ...good(), observedAt: new Date(Date.now() + 301_000).toISOString() }];

    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body: status(updates), headers: JSON_HEADERS },
      400,
    );

    expect(res.error.details?.map((d) => d.path)).toEqual(['updates[1].observedAt']);
  });

  it.each([
    ['arrays', (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`],
    ['objects', (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`],
  ])('answers 400 to deeply nested %s as a field value', async (_what, nest) => {
    const head = JSON.stringify({ updates: [{ ...good(), fields: { [STATUS]: '__X__' } }] });
    const body = head.replace('"__X__"', nest(100_000));

    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
  });

  it('answers 400 to a deeply nested body', async () => {
    const body = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;

    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
  });

  it('answers 400 to an unknown field whose name is long and odd', async () => {
    const name = `__proto__${'💥'.repeat(50)}`;
    const body = status([{ ...good(), fields: { [name]: 1, __proto__x: 2, constructor: 3 } }]);

    const res = await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
    expect(res.error.details?.length).toBe(3);
  });

  it('answers 400 to a __proto__ field', async () => {
    const body = `{"updates":[${JSON.stringify(good()).slice(0, -1)},"fields":{"__proto__":{"x":1}}}]}`;

    await expectRejected(
      { method: 'POST', target: '/v1/endpoints/status', body, headers: JSON_HEADERS },
      400,
    );
  });
});

describe('bad input to company and site PUTs', () => {
  it.each([
    ['an array', '[]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['name not a string', '{"name":5}'],
    ['fields an array', '{"fields":[]}'],
    ['fields null', '{"fields":null}'],
    ['a site-level field', JSON.stringify({ fields: { [DISABLE]: true } })],
    ['an option outside the dropdown', JSON.stringify({ fields: { [ENABLE]: 'Sometimes' } })],
    ['an option of the wrong type', JSON.stringify({ fields: { [ENABLE]: true } })],
  ])('answers 400 to a company body that is %s', async (_what, body) => {
    await expectRejected({ method: 'PUT', target: '/v1/companies/acme', body, headers: JSON_HEADERS }, 400);
  });

  it.each([
    ['a company-level field', JSON.stringify({ fields: { [ENABLE]: 'Disabled' } })],
    ['an endpoint-level field', JSON.stringify({ fields: { [STATUS]: 'x' } })],
    ['a flag as a string', JSON.stringify({ fields: { [DISABLE]: 'true' } })],
  ])('answers 400 to a site body with %s', async (_what, body) => {
    const res = await expectRejected(
      { method: 'PUT', target: '/v1/companies/acme/sites/hq', body, headers: JSON_HEADERS },
      400,
    );
    expect(res.error.details?.[0]?.path).toMatch(/^fields\./);
  });

  it.each([
    ['an id with an encoded /', '/v1/companies/a%2Fb', 400],
    ['an id with an encoded space', '/v1/companies/a%20b', 400],
    ['an id of 129 characters', `/v1/companies/${'c'.repeat(129)}`, 400],
    ['a malformed escape', '/v1/companies/a%ZZ', 404],
    ['a truncated escape', '/v1/companies/a%E', 404],
    ['an escape of invalid UTF-8', '/v1/companies/a%C3%28', 404],
    ['a site id with an encoded #', '/v1/companies/acme/sites/a%23b', 400],
  ])('answers 4xx to a path with %s', async (_what, target, expected) => {
    await expectRejected({ method: 'PUT', target, body: '{"name":"X"}', headers: JSON_HEADERS }, expected);
  });
});

describe('bad input to reads', () => {
  it.each([
    ['a malformed escape', '/v1/endpoints/%ZZ', 404],
    ['an encoded /', '/v1/endpoints/a%2Fb', 400],
    ['an encoded space', '/v1/endpoints/%20', 400],
    ['an unknown endpoint', '/v1/endpoints/nobody', 404],
  ])('answers 4xx to GET of an endpoint with %s', async (_what, target, expected) => {
    await expectRejected({ method: 'GET', target }, expected);
  });
});

describe('odd but well-formed input', () => {
  it.each([
    ['a lone surrogate in the status text', { fields: { [STATUS]: '\ud800' } }],
    ['a lone surrogate as endpoint id', { endpointId: '\udfff' }],
    ['a NUL character in the endpoint id', { endpointId: 'a\u0000b' }],
    ['an id of 128 emoji', { endpointId: '🔑'.repeat(128) }],
    ['a hostname of control characters', { hostname: '\u0001\u0002' }],
    ['an observedAt in year 0001', { observedAt: '0001-01-01T00:00:00Z' }],
  ])('never answers 5xx to %s', async (_what, change) => {
    const res = await api.raw({
      method: 'POST',
      target: '/v1/endpoints/status',
      body: status([{ ...update(), ...change }]),
      headers: JSON_HEADERS,
    });

    expect(res.status, res.text).toBeLessThan(500);
    expect(api.crashes).toEqual([]);
  });

  it.each([
    ['HEAD', '/v1/groups'],
    ['OPTIONS', '/v1/endpoints/status'],
    ['PATCH', '/v1/companies/acme'],
    ['GET', '/v1/endpoints/%'],
    ['GET', '/v1/endpoints/%00'],
    ['GET', '/v1/groups/%F0%9F%94%91/members?limit=5&limit=6'],
    ['GET', '/v1/transitions?cursor=%ZZ'],
    ['GET', '/v1/transitions?limit=%00'],
    ['GET', `/v1/transitions?${'a=1&'.repeat(2000)}`],
    ['GET', '//v1//groups'],
  ])('never answers 5xx to %s %s', async (method, target) => {
    const res = await api.raw({ method, target });

    expect(res.status, res.text).toBeGreaterThanOrEqual(400);
    expect(res.status, res.text).toBeLessThan(500);
    expect(api.crashes).toEqual([]);
    expect(await api.scan()).toEqual(before);
  });
});
