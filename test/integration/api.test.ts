// The HTTP contract of DESIGN §1 and §4 for ingest, companies, sites and endpoint reads, through the
// real handlers on a fresh table, as a signed client sees it.
import { describe, expect, it } from 'vitest';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { at, errorOf, update, useApi } from '#test/helpers/api.ts';
import { shuffleInTest } from '#test/helpers/shuffle.ts';

const STATUS = 'BitLocker Key Backup Status';
const DISABLE = 'Disable BitLocker Key Backup';
const ENABLE = 'Enable BitLocker Key Backup';
const FAILED = SCRIPT_OUTPUT.failed;
const OK = SCRIPT_OUTPUT.success;

const api = useApi();

async function post(...updates: Record<string, unknown>[]) {
  return api.client.request('POST', '/v1/endpoints/status', { updates });
}

async function results(...updates: Record<string, unknown>[]): Promise<string[]> {
  const res = await post(...updates);
  expect(res.status, res.text).toBe(200);
  return (res.body as { results: { result: string }[] }).results.map((r) => r.result);
}

interface EndpointView {
  endpoint: Record<string, unknown> & { fields: Record<string, unknown> };
  effectiveFields: Record<string, unknown>;
  groups: unknown;
  transitions: unknown;
}

async function getEndpoint(id: string): Promise<EndpointView> {
  const res = await api.client.request('GET', `/v1/endpoints/${encodeURIComponent(id)}`);
  expect(res.status, res.text).toBe(200);
  return res.body as EndpointView;
}

describe('POST /v1/endpoints/status', () => {
  it('applies a first report and stores its properties and fields', async () => {
    // Prepare
    const u = update({ hostname: 'LAPTOP-042', observedAt: at(0), fields: { [STATUS]: FAILED } });

    // Act
    const res = await post(u);

    // Assess
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [{ endpointId: u.endpointId, result: 'applied' }] });
    const view = await getEndpoint(String(u.endpointId));
    expect(view.endpoint).toMatchObject({
      endpointId: u.endpointId,
      companyId: 'acme',
      siteId: 'hq',
      hostname: 'LAPTOP-042',
      fields: { [STATUS]: FAILED },
    });
    expect(Date.parse(String(view.endpoint.observedAt))).toBe(Date.parse(at(0)));
  });

  it('answers unchanged for the same observation sent again', async () => {
    const u = update({ hostname: 'H', osType: 'Windows', observedAt: at(0), fields: { [STATUS]: FAILED } });
    expect(await results(u)).toEqual(['applied']);

    expect(await results(u)).toEqual(['unchanged']);
  });

  it('orders reports to the microsecond and treats the same instant in another zone as the same', async () => {
    const u = update({ observedAt: '2026-01-01T00:00:00.123456Z', fields: { [STATUS]: FAILED } });
    expect(await results(u)).toEqual(['applied']);

    // 543 µs later, inside the same millisecond, with another value: newer.
    const later = { ...u, observedAt: '2026-01-01T00:00:00.123999Z', fields: { [STATUS]: OK } };
    expect(await results(later)).toEqual(['applied']);
    expect(await results(later)).toEqual(['unchanged']);
    expect(await results({ ...later, observedAt: '2026-01-01T01:00:00.123999+01:00' })).toEqual([
      'unchanged',
    ]);
    expect(await results({ ...u, observedAt: '2026-01-01T00:00:00.1234Z' })).toEqual(['stale']);
  });

  it('answers unchanged when everything the update mentions equals what is stored', async () => {
    // Prepare: the first report sets more than the second mentions.
    const id = update().endpointId;
    const first = { endpointId: id, companyId: 'acme', siteId: 'hq', observedAt: at(0) };
    await results({ ...first, hostname: 'H', fields: { [STATUS]: FAILED, [DISABLE]: true } });

    // Act
    const got = await results({ ...first, fields: { [DISABLE]: true } });

    // Assess
    expect(got).toEqual(['unchanged']);
  });

  it('answers stale for the same observedAt with a different value, and keeps the stored one', async () => {
    const u = update({ observedAt: at(0), fields: { [STATUS]: FAILED } });
    await results(u);

    const got = await results({ ...u, fields: { [STATUS]: OK } });

    expect(got).toEqual(['stale']);
    expect((await getEndpoint(String(u.endpointId))).endpoint.fields[STATUS]).toBe(FAILED);
  });

  it('answers stale for an older report, even with the same values', async () => {
    const u = update({ observedAt: at(10_000), fields: { [STATUS]: FAILED } });
    await results(u);

    const got = await results(
      { ...u, observedAt: at(0) },
      { ...u, observedAt: at(5_000), fields: { [STATUS]: OK } },
    );

    expect(got).toEqual(['stale', 'stale']);
    const view = await getEndpoint(String(u.endpointId));
    expect(view.endpoint.fields[STATUS]).toBe(FAILED);
    expect(Date.parse(String(view.endpoint.observedAt))).toBe(Date.parse(at(10_000)));
  });

  it('applies a newer report with the same values and moves observedAt', async () => {
    const u = update({ observedAt: at(0), fields: { [STATUS]: FAILED } });
    await results(u);

    const got = await results({ ...u, observedAt: at(1_000) });

    expect(got).toEqual(['applied']);
    const view = await getEndpoint(String(u.endpointId));
    expect(Date.parse(String(view.endpoint.observedAt))).toBe(Date.parse(at(1_000)));
    expect(Date.parse(String(view.effectiveFields['ENDPOINT:Last Report']))).toBe(Date.parse(at(1_000)));
  });

  it('answers in request order, one result per update', async () => {
    // Prepare: known endpoints interleaved with new ones.
    const known = update({ observedAt: at(5_000) });
    await results(known);
    const batch = [
      update({ observedAt: at(0) }),
      { ...known, observedAt: at(1_000) },
      update({ observedAt: at(0) }),
      { ...known },
      update({ observedAt: at(0) }),
      { ...known, observedAt: at(9_000) },
    ];

    // Act
    const res = await post(...batch);

    // Assess
    expect(res.status).toBe(200);
    expect((res.body as { results: unknown[] }).results).toEqual([
      { endpointId: batch[0]?.endpointId, result: 'applied' },
      { endpointId: known.endpointId, result: 'stale' },
      { endpointId: batch[2]?.endpointId, result: 'applied' },
      { endpointId: known.endpointId, result: 'unchanged' },
      { endpointId: batch[4]?.endpointId, result: 'applied' },
      { endpointId: known.endpointId, result: 'applied' },
    ]);
  });

  it('applies reports for one endpoint within a batch in request order', async () => {
    const u = update({ observedAt: at(0), fields: { [STATUS]: FAILED } });

    const got = await results(
      u,
      { ...u, observedAt: at(2_000), fields: { [STATUS]: OK } },
      { ...u, observedAt: at(1_000), fields: { [STATUS]: 'BitLocker Disabled' } },
      { ...u, observedAt: at(2_000), fields: { [STATUS]: OK } },
    );

    expect(got).toEqual(['applied', 'applied', 'stale', 'unchanged']);
    expect((await getEndpoint(String(u.endpointId))).endpoint.fields[STATUS]).toBe(OK);
  });

  it('converges on the newest of 50 concurrent out-of-order reports for one endpoint', async () => {
    // Prepare: 50 observations, each with its own status text, sent in shuffled order at once.
    const id = update().endpointId;
    const offsets = shuffleInTest(Array.from({ length: 50 }, (_, i) => i * 1_000));

    // Act
    const responses = await Promise.all(
      offsets.map((o) =>
        post({
          endpointId: id,
          companyId: 'acme',
          siteId: 'hq',
          observedAt: at(o),
          fields: { [STATUS]: `n=${o}` },
        }),
      ),
    );

    // Assess
    expect(responses.map((r) => r.status)).toEqual(offsets.map(() => 200));
    const newest = responses[offsets.indexOf(49_000)]?.body as { results: { result: string }[] };
    expect(newest.results[0]?.result).toBe('applied');
    const view = await getEndpoint(String(id));
    expect(view.endpoint.fields[STATUS]).toBe('n=49000');
    expect(Date.parse(String(view.endpoint.observedAt))).toBe(Date.parse(at(49_000)));
  });

  it('clears a field given null and keeps fields not mentioned', async () => {
    const u = update({
      hostname: 'KEEP-ME',
      observedAt: at(0),
      fields: { [STATUS]: FAILED, [DISABLE]: true },
    });
    await results(u);

    const got = await results({
      endpointId: u.endpointId,
      companyId: 'acme',
      siteId: 'hq',
      observedAt: at(1_000),
      fields: { [STATUS]: null },
    });

    expect(got).toEqual(['applied']);
    const view = await getEndpoint(String(u.endpointId));
    expect(view.endpoint.fields).toEqual({ [DISABLE]: true });
    expect(view.endpoint.hostname).toBe('KEEP-ME');
    expect(view.effectiveFields[`ENDPOINT:${STATUS}`]).toBeNull();
    expect(view.effectiveFields[`ENDPOINT:${DISABLE}`]).toBe(true);
  });

  it('stores the empty string as a value, not as a clear', async () => {
    const u = update({ observedAt: at(0), fields: { [STATUS]: '' } });
    await results(u);

    const view = await getEndpoint(String(u.endpointId));

    expect(view.endpoint.fields[STATUS]).toBe('');
    expect(view.effectiveFields[`ENDPOINT:${STATUS}`]).toBe('');
  });

  it('answers unchanged when a field the update clears is already unset', async () => {
    const u = update({ observedAt: at(0), fields: { [STATUS]: null } });
    expect(await results(u)).toEqual(['applied']);

    expect(await results(u)).toEqual(['unchanged']);
  });

  it('stores osType and endpointType canonically, matched ignoring case', async () => {
    const u = update({ observedAt: at(0), osType: 'WINDOWS', endpointType: 'virtual machine' });
    await results(u);

    const view = await getEndpoint(String(u.endpointId));

    expect(view.endpoint.osType).toBe('Windows');
    expect(view.endpoint.endpointType).toBe('Virtual Machine');
    expect(view.effectiveFields['ENDPOINT:OS Type']).toBe('Windows');
    expect(await results({ ...u, osType: 'windows', endpointType: 'VIRTUAL MACHINE' })).toEqual([
      'unchanged',
    ]);
  });

  it('rejects an observedAt more than 300 s ahead of the server clock and accepts one 200 s ahead', async () => {
    // Prepare
    const ahead = update({ observedAt: new Date(Date.now() + 310_000).toISOString() });
    const slightlyAhead = update({ observedAt: new Date(Date.now() + 200_000).toISOString() });
    const before = await api.scan();

    // Act
    const rejected = await post(ahead);
    const accepted = await post(slightlyAhead);

    // Assess
    expect(rejected.status).toBe(400);
    expect(errorOf(rejected.body).details?.map((d) => d.path)).toEqual(['updates[0].observedAt']);
    expect(accepted.status).toBe(200);
    expect((await api.scan()).length).toBe(before.length + 1);
  });

  it('accepts a batch of 500 updates', async () => {
    const batch = Array.from({ length: 500 }, () => update({ observedAt: at(0) }));

    const got = await results(...batch);

    expect(got).toHaveLength(500);
    expect(new Set(got)).toEqual(new Set(['applied']));
  });

  it('accepts reports for companies and sites never PUT', async () => {
    const u = update({ companyId: 'never-put', siteId: 'nowhere', observedAt: at(0) });

    expect(await results(u)).toEqual(['applied']);
    const view = await getEndpoint(String(u.endpointId));
    expect(view.effectiveFields[`COMPANY:${ENABLE}`]).toBeNull();
    expect(view.effectiveFields[`SITE:${DISABLE}`]).toBe(false);
  });
});

describe('DynamoDB requests per status update', () => {
  function counted(commands: readonly string[]) {
    const byName: Record<string, number> = {};
    for (const c of commands) byName[c] = (byName[c] ?? 0) + 1;
    return byName;
  }

  it('costs exactly one UpdateItem per update and no reads, whatever the result', async () => {
    // Prepare: 10 known endpoints, then a batch of 10 new, 10 stale and 10 unchanged updates.
    const known = Array.from({ length: 10 }, () =>
      update({ observedAt: at(5_000), fields: { [STATUS]: OK } }),
    );
    await results(...known);
    const fresh = Array.from({ length: 10 }, () =>
      update({ observedAt: at(0), fields: { [STATUS]: FAILED } }),
    );
    const stale = known.map((u) => ({ ...u, observedAt: at(0) }));
    const unchanged = known.map((u) => ({ ...u }));

    // Act
    api.commands.length = 0;
    const got = await results(...fresh, ...stale, ...unchanged);
    const sent = counted(api.commands);

    // Assess
    expect(got).toEqual([
      ...fresh.map(() => 'applied'),
      ...stale.map(() => 'stale'),
      ...unchanged.map(() => 'unchanged'),
    ]);
    expect(sent).toEqual({ UpdateItemCommand: 30 });
  });

  it('costs one UpdateItem for a single applied update', async () => {
    api.commands.length = 0;
    expect(await results(update({ observedAt: at(0) }))).toEqual(['applied']);
    expect(counted(api.commands)).toEqual({ UpdateItemCommand: 1 });
  });
});

describe('PUT /v1/companies/{companyId}', () => {
  it('creates the company and answers 200 with the record', async () => {
    const res = await api.client.request('PUT', '/v1/companies/contoso', {
      name: 'Contoso',
      fields: { [ENABLE]: 'windows workstation' },
    });

    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      companyId: 'contoso',
      name: 'Contoso',
      fields: { [ENABLE]: 'Windows Workstation' },
    });
  });

  it('merges: a name or field not mentioned is kept, null clears', async () => {
    // Prepare
    await api.client.request('PUT', '/v1/companies/merge-co', {
      name: 'Merge Co',
      fields: { [ENABLE]: 'Disabled' },
    });

    // Act
    const fieldsOnly = await api.client.request('PUT', '/v1/companies/merge-co', {
      fields: { [ENABLE]: 'Windows Server' },
    });
    const nameOnly = await api.client.request('PUT', '/v1/companies/merge-co', { name: 'Merge Company' });
    const empty = await api.client.request('PUT', '/v1/companies/merge-co', {});
    const cleared = await api.client.request('PUT', '/v1/companies/merge-co', { fields: { [ENABLE]: null } });

    // Assess
    expect(fieldsOnly.body).toMatchObject({ name: 'Merge Co', fields: { [ENABLE]: 'Windows Server' } });
    expect(nameOnly.body).toMatchObject({ name: 'Merge Company', fields: { [ENABLE]: 'Windows Server' } });
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ name: 'Merge Company', fields: { [ENABLE]: 'Windows Server' } });
    expect(cleared.status).toBe(200);
    expect((cleared.body as { fields: object }).fields).toEqual({});
    expect((cleared.body as { name: string }).name).toBe('Merge Company');
  });

  it.each([
    [DISABLE, true],
    [STATUS, 'x'],
  ])('rejects the non-company field "%s" with 400 naming it', async (name, value) => {
    const res = await api.client.request('PUT', '/v1/companies/acme-bad', { fields: { [name]: value } });

    expect(res.status).toBe(400);
    const error = errorOf(res.body);
    expect(error.details).toEqual([{ path: `fields.${name}`, message: expect.stringContaining(name) }]);
  });

  it('rejects an option outside the Dropdown with 400 naming the field', async () => {
    const res = await api.client.request('PUT', '/v1/companies/acme-bad', { fields: { [ENABLE]: 'Linux' } });

    expect(res.status).toBe(400);
    expect(errorOf(res.body).details?.[0]?.path).toBe(`fields.${ENABLE}`);
  });
});

describe('PUT /v1/companies/{companyId}/sites/{siteId}', () => {
  it('creates and merges the site, answering 200 with the record', async () => {
    const created = await api.client.request('PUT', '/v1/companies/contoso/sites/hq', {
      name: 'Head Office',
      fields: { [DISABLE]: true },
    });
    const renamed = await api.client.request('PUT', '/v1/companies/contoso/sites/hq', { name: 'HQ' });

    expect(created.status, created.text).toBe(200);
    expect(created.body).toMatchObject({
      companyId: 'contoso',
      siteId: 'hq',
      name: 'Head Office',
      fields: { [DISABLE]: true },
    });
    expect(renamed.body).toMatchObject({
      companyId: 'contoso',
      siteId: 'hq',
      name: 'HQ',
      fields: { [DISABLE]: true },
    });
  });

  it.each([
    [ENABLE, 'Disabled'],
    [STATUS, 'x'],
  ])('rejects the non-site field "%s" with 400 naming it', async (name, value) => {
    const res = await api.client.request('PUT', '/v1/companies/contoso/sites/bad', {
      fields: { [name]: value },
    });

    expect(res.status).toBe(400);
    expect(errorOf(res.body).details).toEqual([
      { path: `fields.${name}`, message: expect.stringContaining(name) },
    ]);
  });

  it('keeps sites of different companies apart', async () => {
    await api.client.request('PUT', '/v1/companies/c1/sites/same', { name: 'One' });
    const other = await api.client.request('PUT', '/v1/companies/c2/sites/same', { name: 'Two' });

    expect(other.body).toMatchObject({ companyId: 'c2', siteId: 'same', name: 'Two' });
  });
});

describe('GET /v1/endpoints/{endpointId}', () => {
  it('answers the contract shape with effective fields of all three levels', async () => {
    // Prepare
    await api.client.request('PUT', '/v1/companies/shape-co', {
      fields: { [ENABLE]: 'Windows Workstation' },
    });
    await api.client.request('PUT', '/v1/companies/shape-co/sites/s1', { fields: { [DISABLE]: true } });
    const u = update({ companyId: 'shape-co', siteId: 's1', observedAt: at(0), fields: { [STATUS]: OK } });
    await results(u);

    // Act
    const view = await getEndpoint(String(u.endpointId));

    // Assess
    expect(view.endpoint).toEqual({
      endpointId: u.endpointId,
      companyId: 'shape-co',
      siteId: 's1',
      hostname: null,
      osType: null,
      endpointType: null,
      observedAt: expect.any(String),
      fields: { [STATUS]: OK },
    });
    expect(view.effectiveFields).toMatchObject({
      [`COMPANY:${ENABLE}`]: 'Windows Workstation',
      [`SITE:${DISABLE}`]: true,
      [`ENDPOINT:${DISABLE}`]: false,
      [`ENDPOINT:${STATUS}`]: OK,
    });
    expect(view.groups).toEqual([]);
    expect(view.transitions).toEqual([]);
    for (const key of Object.keys(view.effectiveFields)) expect(key).toMatch(/^(COMPANY|SITE|ENDPOINT):./);
  });

  it('gives every catalogue field its default, else null, when nothing is set', async () => {
    const u = update({ companyId: 'bare-co', siteId: 'bare', observedAt: at(0) });
    await results(u);

    const view = await getEndpoint(String(u.endpointId));

    expect(view.effectiveFields).toMatchObject({
      [`COMPANY:${ENABLE}`]: null,
      [`SITE:${DISABLE}`]: false,
      [`ENDPOINT:${DISABLE}`]: false,
      [`ENDPOINT:${STATUS}`]: null,
    });
  });

  it('reads ids with characters that need percent-encoding', async () => {
    const u = update({ endpointId: 'café:1+2', observedAt: at(0) });
    await results(u);

    const view = await getEndpoint('café:1+2');

    expect(view.endpoint.endpointId).toBe('café:1+2');
  });

  it('answers 404 with the error shape for an unknown endpoint', async () => {
    const res = await api.client.request('GET', '/v1/endpoints/no-such-endpoint');

    expect(res.status).toBe(404);
    expect(errorOf(res.body).code).toBeTruthy();
  });
});
