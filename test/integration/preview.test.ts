// `POST /v1/groups/preview` through the same wiring as `npm start`: what a definition would do, per
// company, with why, and who would enter and leave, and that the members the evaluator then records
// after saving are exactly those the preview counted.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '#local/client.ts';
import { type Pipeline, startPipeline } from '#local/pipeline.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';

let pipeline: Pipeline;
let client: Client;

interface Preview {
  scanned: number;
  complete: boolean;
  memberCount: number;
  byCompany: Record<string, number>;
  members: { endpointId: string; matched: string[] }[];
  entering: { count: number; endpointIds: string[] } | null;
  leaving: { count: number; endpointIds: string[] } | null;
  warnings: { rule: string }[];
}

const endpoints = Array.from({ length: 24 }, (_, i) => ({
  endpointId: `EP-${String(i).padStart(2, '0')}`,
  companyId: i % 3 === 0 ? 'contoso' : 'fabrikam',
  siteId: 'hq',
  hostname: i % 4 === 0 ? `SRV-${i}` : `PC-${i}`,
  osType: i % 2 === 0 ? 'Windows' : 'macOS',
  endpointType: i % 5 === 0 ? 'Desktop' : 'Laptop',
  observedAt: new Date(Date.now() - 60_000).toISOString(),
}));

const version1 = {
  id: 'win-laptops',
  name: 'Windows laptops and servers by name',
  blocks: [
    [
      { field: 'OS Type', operator: 'Equal', values: ['Windows'] },
      { field: 'Endpoint Type', operator: 'Equal', values: ['Laptop'] },
    ],
    [{ field: 'Hostname', operator: 'Begins with', values: ['SRV-'] }],
  ],
};
const version2 = {
  ...version1,
  blocks: [[{ field: 'OS Type', operator: 'Equal', values: ['macOS'] }]],
};

async function members(groupId: string): Promise<{ endpointId: string; companyId: string }[]> {
  const res = await client.request('GET', `/v1/groups/${groupId}/members?limit=500`);
  return (res.body as { members: { endpointId: string; companyId: string }[] }).members;
}

beforeAll(async () => {
  pipeline = await startPipeline({
    port: 0,
    dynamodbEndpoint: await dynamoEndpoint(),
    tableName: `preview-${randomBytes(4).toString('hex')}`,
    secret: 'preview-secret',
    alertsFile: join(await mkdtemp(join(tmpdir(), 'keywatch-preview-')), 'alerts.jsonl'),
    pollIntervalMs: 100,
    log: () => undefined,
  });
  client = createClient({ url: pipeline.url, secret: 'preview-secret' });
  const res = await client.request('POST', '/v1/endpoints/status', { updates: endpoints });
  expect(res.status, res.text).toBe(200);
  await pipeline.drained();
}, 60_000);

afterAll(async () => {
  await pipeline?.stop();
});

describe('POST /v1/groups/preview', () => {
  it('counts what a new group would hold, per company, with the block that matched; saving gives those members', async () => {
    const res = await client.request('POST', '/v1/groups/preview', version1);
    expect(res.status, res.text).toBe(200);
    const preview = res.body as Preview;
    const expected = endpoints.filter(
      (e) => (e.osType === 'Windows' && e.endpointType === 'Laptop') || e.hostname.startsWith('SRV-'),
    );
    expect(preview).toMatchObject({ scanned: 24, complete: true, memberCount: expected.length });
    expect(preview.entering).toBeNull();
    expect(preview.byCompany).toEqual({
      contoso: expected.filter((e) => e.companyId === 'contoso').length,
      fabrikam: expected.filter((e) => e.companyId === 'fabrikam').length,
    });
    const ep20 = preview.members.find((m) => m.endpointId === 'EP-20'); // Windows, Desktop, SRV-20
    expect(ep20?.matched).toEqual(['blocks[1]']);
    const ep08 = preview.members.find((m) => m.endpointId === 'EP-08'); // Windows, Laptop, SRV-8
    expect(ep08?.matched).toEqual(['blocks[0]', 'blocks[1]']);
    expect((await client.request('GET', '/v1/groups/win-laptops')).status).toBe(404);

    expect((await client.request('PUT', '/v1/groups/win-laptops', version1)).status).toBe(201);
    await pipeline.drained();
    const saved = await members('win-laptops');
    expect(saved.map((m) => m.endpointId).sort()).toEqual(expected.map((e) => e.endpointId).sort());
  }, 60_000);

  it('tells who would enter and leave against the stored version, as saving then does', async () => {
    const before = new Set((await members('win-laptops')).map((m) => m.endpointId));
    const res = await client.request('POST', '/v1/groups/preview', version2);
    const preview = res.body as Preview;
    const after = endpoints.filter((e) => e.osType === 'macOS').map((e) => e.endpointId);
    const entering = after.filter((id) => !before.has(id)).sort();
    const leaving = [...before].filter((id) => !after.includes(id)).sort();
    // Listed in the fleet walk's order.
    expect(preview.entering?.count).toBe(entering.length);
    expect(preview.entering?.endpointIds.sort()).toEqual(entering);
    expect(preview.leaving?.count).toBe(leaving.length);
    expect(preview.leaving?.endpointIds.sort()).toEqual(leaving);

    expect((await client.request('PUT', '/v1/groups/win-laptops', version2)).status).toBe(200);
    await pipeline.drained();
    expect((await members('win-laptops')).map((m) => m.endpointId).sort()).toEqual([...after].sort());
  }, 60_000);

  it('answers 400 to an invalid definition, naming the path, and stores nothing', async () => {
    const res = await client.request('POST', '/v1/groups/preview', {
      name: 'Broken',
      blocks: [[{ field: 'OS Type', operator: 'Greater than', values: ['1'] }]],
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('blocks[0][0].operator');
  });
});
