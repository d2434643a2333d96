// Property-based fuzzing of the HTTP contract with fast-check, against the real ingest and admin
// handlers on DynamoDB Local: arbitrary methods, paths, query strings, headers, credentials and
// bodies (random JSON, mutated valid bodies, broken bytes). Whatever arrives: never a 5xx, every
// error has the contract's shape, and a rejected request sends no write to the table.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { sign } from '#core/signing.ts';
import { ROUTES } from '#http/routes.ts';
import { functionFor } from '#local/http-server.ts';
import { lambdaContext } from '#local/lambda-context.ts';
import { errorOf, SECRETS, useApi } from '#test/helpers/api.ts';

const RUNS = 2_500; // per property; four properties: 10,000 cases
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const WRITES = /^(PutItem|UpdateItem|DeleteItem|TransactWriteItems|BatchWriteItem)Command$/;
const STATUS = 'BitLocker Key Backup Status';

const api = useApi();
let ingestKey = '';

beforeAll(async () => {
  await api.seedShippedGroups();
  const res = await api.client.request('POST', '/v1/companies/acme/keys', {});
  ingestKey = (res.body as { key: string }).key;
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} npm test -- fuzz-http reproduces)`);
});

type Credential = 'admin' | 'key' | 'bearer' | 'garbage' | 'none' | 'stale';

function event(method: string, target: string, headers: Record<string, string>, body: string | undefined) {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString))
    query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: { http: { method, path: rawPath } },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

function credentialHeaders(
  cred: Credential,
  method: string,
  target: string,
  body: string,
): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  switch (cred) {
    case 'admin':
      return {
        'x-keywatch-timestamp': ts,
        'x-keywatch-signature': sign(SECRETS[0], ts, method, target, body),
      };
    case 'key':
      return {
        'x-keywatch-key-id': ingestKey.split('_')[1] ?? '',
        'x-keywatch-timestamp': ts,
        'x-keywatch-signature': sign(ingestKey, ts, method, target, body),
      };
    case 'bearer':
      return { authorization: `Bearer ${ingestKey}` };
    case 'stale': {
      const old = String(Number(ts) - 301);
      return {
        'x-keywatch-timestamp': old,
        'x-keywatch-signature': sign(SECRETS[0], old, method, target, body),
      };
    }
    case 'garbage':
      return { 'x-keywatch-timestamp': ts, 'x-keywatch-signature': 'v1=00', authorization: 'Bearer kwk_x' };
    case 'none':
      return {};
  }
}

/** Sends one case and checks what every answer shares; returns the status. */
async function check(
  method: string,
  target: string,
  body: string | undefined,
  cred: Credential,
  extra: Record<string, string> = {},
) {
  const signedBody = method === 'GET' || method === 'DELETE' || method === 'HEAD' ? '' : (body ?? '');
  const headers = {
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...credentialHeaders(cred, method, target, signedBody),
    ...extra,
  };
  const before = api.commands.length;
  const refusedBefore = api.refused.length;
  const fn = functionFor(method, target.split('?')[0] ?? '/');
  const res = (await api.handlers[fn](
    event(method, target, headers, body),
    lambdaContext(`keywatch-${fn}`),
  )) as APIGatewayProxyStructuredResultV2;
  const status = res.statusCode ?? 0;
  const sent = api.commands.slice(before);
  if (status >= 500) throw new Error(`${status} for ${method} ${target} (${cred}): ${res.body}`);
  if (status >= 400) {
    errorOf(JSON.parse(res.body ?? 'null'));
    // A conditional write DynamoDB refused wrote nothing; any other write would be a change.
    const writes = sent.filter((c) => WRITES.test(c)).length;
    const refused = api.refused.slice(refusedBefore).filter((c) => WRITES.test(c)).length;
    if (writes > refused)
      throw new Error(`${status} after ${writes - refused} writes for ${method} ${target}`);
  }
  seen.set(status, (seen.get(status) ?? 0) + 1);
  return status;
}

/** Statuses answered, per property: a fuzzer that never got past authentication would prove little. */
let seen = new Map<number, number>();
const reached = () => {
  const out = Object.fromEntries([...seen].sort(([a], [b]) => a - b));
  seen = new Map();
  return out;
};

const credential = fc.constantFrom<Credential>(
  'admin',
  'admin',
  'key',
  'key',
  'bearer',
  'garbage',
  'none',
  'stale',
);
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', '%', '%ZZ', '%2F', '..', 'a b', 'é', '\u0000', 'x'.repeat(200), '%F0%9F%98%80'),
);
/** A path from the route table with nasty parameters, or something else entirely. */
const path = fc.oneof(
  fc
    .tuple(fc.constantFrom(...ROUTES.map((r) => r.path)), fc.array(nasty, { minLength: 4, maxLength: 4 }))
    .map(([template, values]) => {
      let i = 0;
      return template.replace(/\{\w+\}/g, () => encodeURIComponent(values[i++] ?? 'x'));
    }),
  fc.webPath(),
  fc.constantFrom('/', '/v1', '/v1/', '/v1//groups', '/v2/groups', '/v1/groups/'),
);
const query = fc.option(
  fc
    .array(fc.tuple(fc.constantFrom('limit', 'cursor', 'companyId', 'groupId', 'endpointId', 'x'), nasty), {
      maxLength: 4,
    })
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`),
  { nil: '' },
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');

/** Mostly `valid`, sometimes anything: deep enough to reach the writes, wild enough to break them. */
const mostly = <T>(valid: fc.Arbitrary<T>, wild: fc.Arbitrary<unknown> = nasty) =>
  fc.oneof({ arbitrary: valid, weight: 8 }, { arbitrary: wild, weight: 1 });

/** A status update with every property drawn from valid and invalid values. */
const update = fc.record(
  {
    endpointId: mostly(fc.constantFrom('FUZZ-1', 'FUZZ-2', 'FUZZ-3')),
    companyId: mostly(fc.constantFrom('acme', 'acme', 'beta')),
    siteId: mostly(fc.constant('hq')),
    observedAt: mostly(
      fc
        .date({ min: new Date('2020-01-01'), max: new Date(Date.now() + 600_000), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.oneof(nasty, fc.integer(), fc.double(), fc.constantFrom(1e300, -1e20, 8640000000000001)),
    ),
    hostname: mostly(fc.constantFrom('LAPTOP-1', 'PC-2'), fc.oneof(nasty, fc.constant(null))),
    osType: mostly(fc.constantFrom('windows', 'macOS', 'Linux')),
    endpointType: mostly(fc.constantFrom('Laptop', 'server', 'Virtual Machine')),
    fields: mostly(
      fc.dictionary(
        fc.oneof(
          { arbitrary: fc.constantFrom(STATUS, 'Disable BitLocker Key Backup'), weight: 8 },
          {
            arbitrary: fc.constantFrom('Enable BitLocker Key Backup', '__proto__', '', 'x'.repeat(300)),
            weight: 1,
          },
        ),
        fc.oneof(
          fc.constantFrom('| C: - FAILED - 1; Azure AD |', 'ok', true, false, null),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { maxKeys: 2 },
      ),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { requiredKeys: ['endpointId', 'companyId', 'siteId', 'observedAt'] },
);
const body = fc.oneof(
  {
    arbitrary: fc.array(update, { minLength: 1, maxLength: 3 }).map((updates) => JSON.stringify({ updates })),
    weight: 4,
  },
  {
    arbitrary: update.map((u) =>
      JSON.stringify({
        deviceId: u.endpointId,
        companyId: u.companyId,
        siteId: u.siteId,
        field: STATUS,
        value: 'x',
        timestamp: u.observedAt,
      }),
    ),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({
        name: mostly(fc.constant('Fuzzed')),
        fields: fc.jsonValue({ maxDepth: 2 }),
        blocks: fc.jsonValue({ maxDepth: 3 }),
      })
      .map((o) => JSON.stringify(o)),
    weight: 1,
  },
  { arbitrary: fc.json({ maxDepth: 4 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 60 }), weight: 1 },
  { arbitrary: fc.constantFrom('{"updates":[{"endpointId":', '{}', '[]', 'null'), weight: 1 },
);

describe('fuzzing the HTTP API (fast-check)', () => {
  it('never answers 5xx nor writes on a rejection, for arbitrary requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        path,
        query,
        fc.option(body, { nil: undefined }),
        credential,
        async (m, p, q, b, c) => {
          await check(m, p + q, b, c);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    const statuses = reached();
    console.log('arbitrary requests:', statuses);
    for (const s of [400, 401, 403, 404, 405]) expect(statuses[s], `status ${s}`).toBeGreaterThan(0);
  });

  it('never answers 5xx nor writes on a rejection, for status and webhook bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/endpoints/status', '/v1/webhooks/generic', '/v1/webhooks/other'),
        body,
        credential,
        async (p, b, c) => {
          await check('POST', p, b, c);
        },
      ),
      { numRuns: RUNS, seed: SEED + 1 },
    );
    const statuses = reached();
    console.log('status and webhook bodies:', statuses);
    for (const s of [200, 400, 401, 403, 404]) expect(statuses[s], `status ${s}`).toBeGreaterThan(0);
  });

  it('never answers 5xx nor writes on a rejection, for company, site, group and key bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          ['PUT', '/v1/companies/acme'],
          ['PUT', '/v1/companies/acme/sites/hq'],
          ['PUT', '/v1/groups/fuzz-group'],
          ['POST', '/v1/companies/acme/keys'],
        ),
        body,
        credential,
        async ([m, p], b, c) => {
          await check(m, p, b, c);
        },
      ),
      { numRuns: RUNS, seed: SEED + 2 },
    );
    const statuses = reached();
    console.log('company, site, group and key bodies:', statuses);
    for (const s of [400, 401, 403]) expect(statuses[s], `status ${s}`).toBeGreaterThan(0);
    expect((statuses[200] ?? 0) + (statuses[201] ?? 0)).toBeGreaterThan(0);
  });

  it('never answers 5xx for arbitrary headers and content types on a signed status request', async () => {
    const valid = JSON.stringify({
      updates: [
        { endpointId: 'FUZZ-H', companyId: 'acme', siteId: 'hq', observedAt: new Date().toISOString() },
      ],
    });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom(
              'content-type',
              'authorization',
              'x-keywatch-key-id',
              'x-keywatch-timestamp',
              'x-keywatch-signature',
            ),
            fc.string({ maxLength: 10 }),
          ),
          nasty,
          { maxKeys: 3 },
        ),
        credential,
        async (headers, c) => {
          await check('POST', '/v1/endpoints/status', valid, c, headers);
        },
      ),
      { numRuns: RUNS, seed: SEED + 3 },
    );
    const statuses = reached();
    console.log('headers:', statuses);
    expect(statuses[200], 'some requests still pass').toBeGreaterThan(0);
    expect(api.crashes).toEqual([]);
  });
});
