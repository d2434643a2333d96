// The field catalogue as data through the real admin and ingest handlers: listing, creating and
// replacing field definitions with their validation, the guards that keep every stored group valid
// (409 naming the group), deletion, and status updates taking the stored catalogue and the new
// built-ins.
import { describe, expect, it } from 'vitest';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { cachedCatalogue, createFieldStore } from '#adapters/field-store.ts';
import { errorOf, update, useApi } from '#test/helpers/api.ts';
import { freshTable } from '#test/helpers/dynamo.ts';
import { countRequests } from '#test/helpers/request-counter.ts';

const api = useApi();
const path = (level: string, name: string) => `/v1/fields/${level}/${encodeURIComponent(name)}`;
const putField = (level: string, name: string, body: unknown) =>
  api.client.request('PUT', path(level, name), body);
const putGroup = (id: string, body: unknown) => api.client.request('PUT', `/v1/groups/${id}`, body);
const status = async (...updates: Record<string, unknown>[]) =>
  api.client.request('POST', '/v1/endpoints/status', { updates });

/** A rejected write: the status, the error shape, no crash and an unchanged table. */
async function expectRejected(
  send: () => Promise<{ status: number; body: unknown; text: string }>,
  code: number,
) {
  const before = await api.scan();
  const res = await send();
  expect(res.status, res.text).toBe(code);
  expect(api.crashes).toEqual([]);
  expect(await api.scan()).toEqual(before);
  return errorOf(res.body);
}

describe('GET /v1/fields', () => {
  it('lists the shipped custom fields and every built-in, built-ins marked', async () => {
    const res = await api.client.request('GET', '/v1/fields');
    expect(res.status).toBe(200);
    const fields = (res.body as { fields: { name: string; level: string; builtIn?: string }[] }).fields;
    const custom = fields.filter((f) => f.builtIn === undefined).map((f) => `${f.level}:${f.name}`);
    expect(custom).toEqual([
      'COMPANY:Enable BitLocker Key Backup',
      'ENDPOINT:BitLocker Key Backup Status',
      'ENDPOINT:Disable BitLocker Key Backup',
      'SITE:Disable BitLocker Key Backup',
    ]);
    const builtIns = fields.filter((f) => f.builtIn !== undefined).map((f) => f.name);
    for (const name of [
      'OS',
      'OS Version',
      'OS Build Number',
      'Installed Software',
      'Machine Roles',
      'Available',
    ]) {
      expect(builtIns).toContain(name);
    }
    expect(fields.find((f) => f.name === 'Installed Software')).toMatchObject({
      multiValued: true,
      type: 'Text',
    });
  });
});

describe('PUT /v1/fields/{level}/{name}', () => {
  it('creates a field (201), replaces it (200), and status updates take it at once', async () => {
    const before = await status(update({ fields: { Antivirus: 'Defender' } }));
    expect(before.status).toBe(400);

    const created = await putField('endpoint', 'Antivirus', {
      type: 'dropdown',
      options: ['Defender', 'SentinelOne', 'None'],
      default: 'none',
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Antivirus',
      level: 'ENDPOINT',
      type: 'Dropdown',
      default: 'None',
    });

    const replaced = await putField('ENDPOINT', 'Antivirus', {
      type: 'Dropdown',
      options: ['Defender', 'SentinelOne', 'Huntress', 'None'],
    });
    expect(replaced.status).toBe(200);

    const u = update({ fields: { Antivirus: 'huntress' } });
    const res = await status(u);
    expect(res.status, res.text).toBe(200);
    const view = await api.client.request('GET', `/v1/endpoints/${u.endpointId}`);
    expect((view.body as { endpoint: { fields: Record<string, unknown> } }).endpoint.fields.Antivirus).toBe(
      'Huntress',
    );
  });

  it('answers 400 with every problem of a definition, and stores nothing', async () => {
    const error = await expectRejected(
      () =>
        putField('ENDPOINT', 'Broken', {
          type: 'Text',
          maxLength: 10_001,
          options: ['a'],
          multiValued: true,
          colour: 'red',
        }),
      400,
    );
    expect(error.details?.map((d) => d.path).sort()).toEqual([
      'colour',
      'maxLength',
      'multiValued',
      'options',
    ]);

    const noOptions = await expectRejected(() => putField('COMPANY', 'Tier', { type: 'Dropdown' }), 400);
    expect(noOptions.details?.[0]?.path).toBe('options');
    const badDefault = await expectRejected(
      () => putField('COMPANY', 'Tier', { type: 'Dropdown', options: ['Gold'], default: 'Silver' }),
      400,
    );
    expect(badDefault.details?.[0]?.path).toBe('default');
    const builtIn = await expectRejected(() => putField('ENDPOINT', 'OS Version', { type: 'Text' }), 400);
    expect(builtIn.details?.[0]?.message).toContain('built-in');
    await expectRejected(() => putField('REGION', 'Tier', { type: 'Text' }), 400);
  });

  it('answers 409 naming the group when a change would break it, and keeps the field', async () => {
    await putField('COMPANY', 'Contract', { type: 'Dropdown', options: ['Gold', 'Silver', 'Bronze'] });
    const g = await putGroup('gold-clients', {
      name: 'Gold clients',
      blocks: [[{ field: 'Contract', operator: 'Equal', values: ['Gold'] }]],
    });
    expect(g.status, g.text).toBe(201);

    const error = await expectRejected(
      () => putField('COMPANY', 'Contract', { type: 'Dropdown', options: ['Silver', 'Bronze'] }),
      409,
    );
    expect(error.message).toContain('gold-clients');
    expect(error.details?.[0]?.path).toBe('groups.gold-clients.blocks[0][0].values[0]');
    const typeChange = await expectRejected(() => putField('COMPANY', 'Contract', { type: 'Number' }), 409);
    expect(typeChange.details?.[0]?.path).toMatch(/^groups\.gold-clients\./);

    // A name at a second level makes the group's leaf (no `level`) ambiguous: refused as well.
    const ambiguous = await expectRejected(() => putField('SITE', 'Contract', { type: 'Text' }), 409);
    expect(ambiguous.details?.[0]?.path).toBe('groups.gold-clients.blocks[0][0].level');
  });

  it('answers 409 to a name differing only in case from a field of the level', async () => {
    await putField('SITE', 'Rack', { type: 'Text' });
    await expectRejected(() => putField('SITE', 'RACK', { type: 'Text' }), 409);
  });

  it('is for admins only: an ingest key is 403', async () => {
    const key = await api.client.request('POST', '/v1/companies/acme/keys', {});
    const withKey = api.clientWith((key.body as { key: string }).key);
    const res = await withKey.request('PUT', path('ENDPOINT', 'Sneaky'), { type: 'Text' });
    expect(res.status).toBe(403);
  });
});

describe('DELETE /v1/fields/{level}/{name}', () => {
  it('answers 409 while a group reads the field, then deletes it once the group is gone', async () => {
    await putField('ENDPOINT', 'Warranty End', { type: 'Date' });
    await putGroup('warranty', {
      name: 'Warranty over',
      blocks: [[{ field: 'Warranty End', operator: 'Older than days', values: ['0'] }]],
    });
    const error = await expectRejected(
      () => api.client.request('DELETE', path('ENDPOINT', 'Warranty End')),
      409,
    );
    expect(error.details).toEqual([{ path: 'groups.warranty', message: 'reads ENDPOINT:Warranty End' }]);

    expect((await api.client.request('DELETE', '/v1/groups/warranty')).status).toBe(200);
    const res = await api.client.request('DELETE', path('ENDPOINT', 'Warranty End'));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ deleted: { level: 'ENDPOINT', name: 'Warranty End' } });
    const u = update({ fields: { 'Warranty End': '2027-01-01T00:00:00Z' } });
    expect((await status(u)).status).toBe(400);
    await expectRejected(() => api.client.request('DELETE', path('ENDPOINT', 'Warranty End')), 404);
  });
});

describe('built-ins in status updates', () => {
  it('stores the RMM built-ins and reads OS Type Darwin as macOS', async () => {
    const u = update({
      osType: 'darwin',
      os: 'macOS 15.2 Sequoia',
      osVersion: '15.2',
      osBuildNumber: 24_002,
      installedSoftware: ['Google Chrome', 'Microsoft Teams'],
      machineRoles: ['Web Server'],
      available: true,
    });
    const res = await status(u);
    expect(res.status, res.text).toBe(200);
    const view = (await api.client.request('GET', `/v1/endpoints/${u.endpointId}`)).body as {
      effectiveFields: Record<string, unknown>;
    };
    expect(view.effectiveFields).toMatchObject({
      'ENDPOINT:OS Type': 'macOS',
      'ENDPOINT:OS': 'macOS 15.2 Sequoia',
      'ENDPOINT:OS Build Number': 24_002,
      'ENDPOINT:Installed Software': ['Google Chrome', 'Microsoft Teams'],
      'ENDPOINT:Machine Roles': ['Web Server'],
      'ENDPOINT:Available': true,
    });
  });

  it('takes the built-ins from a webhook event too', async () => {
    const res = await api.client.request('POST', '/v1/webhooks/generic', {
      deviceId: 'WH-BUILTINS',
      companyId: 'acme',
      siteId: 'hq',
      timestamp: Math.floor(Date.now() / 1000) - 60,
      fields: {},
      osType: 'Darwin',
      machineRoles: ['File Server'],
      available: false,
    });
    expect(res.status, res.text).toBe(200);
    const view = (await api.client.request('GET', '/v1/endpoints/WH-BUILTINS')).body as {
      effectiveFields: Record<string, unknown>;
    };
    expect(view.effectiveFields).toMatchObject({
      'ENDPOINT:OS Type': 'macOS',
      'ENDPOINT:Machine Roles': ['File Server'],
      'ENDPOINT:Available': false,
    });
  });

  it('accepts Darwin in a group as macOS', async () => {
    const res = await putGroup('macs', {
      name: 'Macs',
      blocks: [[{ field: 'OS Type', operator: 'Equal', values: ['Darwin'] }]],
    });
    expect(res.status, res.text).toBe(201);
    expect((res.body as { blocks: { values: string[] }[][] }).blocks[0]?.[0]?.values).toEqual(['macOS']);
  });

  it('answers 400 to a list built-in that is not a list of texts', async () => {
    const error = await expectRejected(() => status(update({ installedSoftware: 'Chrome' })), 400);
    expect(error.details?.[0]?.path).toBe('updates[0].installedSoftware');
  });
});

describe('the catalogue an ingest instance validates against', () => {
  it('is read once per cache period, not once per update', async () => {
    const table = await freshTable();
    const client = createDynamoClient(table.endpoint);
    const requests = countRequests(client);
    let now = 1_000_000;
    const source = cachedCatalogue(createFieldStore(documentClient(client), table.tableName), {
      ttlMs: 5_000,
      nowMs: () => now,
    });
    await Promise.all([source(), source(), source()]);
    now += 4_999;
    await source();
    expect(requests.snapshot()).toEqual({ Query: 1 });
    now += 1;
    await source();
    expect(requests.snapshot()).toEqual({ Query: 2 });
    client.destroy();
    table.client.destroy();
  });
});

describe('group lint over HTTP', () => {
  const keyMissing = {
    name: 'BitLocker Key Missing (RMM)',
    blocks: [
      [{ field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['Not Available'] }],
    ],
  };

  it('answers warnings with a PUT, never blocking it, and can be PUT back unchanged', async () => {
    const res = await putGroup('rmm-key-missing', keyMissing);
    expect(res.status, res.text).toBe(201);
    const body = res.body as { warnings: { rule: string; path: string }[] };
    expect(body.warnings.map((w) => `${w.rule} ${w.path}`)).toEqual([
      'unwritten-value blocks[0][0].values[0]',
      'never-true blocks',
    ]);
    expect((await putGroup('rmm-key-missing', res.body)).status).toBe(200);
  });

  it('lints a stored group, or a definition sent to it without storing it', async () => {
    const stored = await api.client.request('POST', '/v1/groups/rmm-key-missing/lint', {});
    expect(stored.status, stored.text).toBe(200);
    expect((stored.body as { warnings: unknown[] }).warnings).toHaveLength(2);

    const before = await api.scan();
    const fixed = await api.client.request('POST', '/v1/groups/rmm-key-missing/lint', {
      ...keyMissing,
      blocks: [
        [{ field: 'BitLocker Key Backup Status', operator: 'Contains any of', values: ['Key: Not Found'] }],
      ],
    });
    expect(fixed.body).toEqual({ groupId: 'rmm-key-missing', warnings: [] });
    expect(await api.scan()).toEqual(before);
    expect((await api.client.request('POST', '/v1/groups/nothing-here/lint', {})).status).toBe(404);
  });
});
