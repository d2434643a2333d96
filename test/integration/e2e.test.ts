// End to end through the same wiring as `npm start`: signed HTTP → ingest → table → stream poller →
// evaluate → transition → notify → alert sink line.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '#local/client.ts';
import { type Pipeline, startPipeline } from '#local/pipeline.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';

const FAILED = SCRIPT_OUTPUT.failed;
const SUCCESS = SCRIPT_OUTPUT.success;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

let pipeline: Pipeline;
let client: Client;
let alertsFile: string;

async function alertLines(): Promise<Record<string, unknown>[]> {
  const text = await readFile(alertsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitForAlerts(count: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = await alertLines();
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const status = (observedAt: string, text: string) => ({
  updates: [
    {
      endpointId: 'LAPTOP-042',
      companyId: 'contoso',
      siteId: 'hq',
      hostname: 'LAPTOP-042',
      osType: 'windows',
      endpointType: 'laptop',
      observedAt,
      fields: { 'BitLocker Key Backup Status': text },
    },
  ],
});

beforeAll(async () => {
  alertsFile = join(await mkdtemp(join(tmpdir(), 'keywatch-e2e-')), 'alerts.jsonl');
  pipeline = await startPipeline({
    port: 0,
    dynamodbEndpoint: await dynamoEndpoint(),
    tableName: `e2e-${randomBytes(4).toString('hex')}`,
    secret: 'e2e-secret',
    alertsFile,
    pollIntervalMs: 100,
    log: () => undefined,
  });
  client = createClient({ url: pipeline.url, secret: 'e2e-secret' });
  await pipeline.drained();
});

afterAll(async () => {
  await pipeline?.stop();
});

describe('local pipeline', () => {
  it('turns a failed backup into one alert, and its recovery into one exit alert', async () => {
    await client.request('PUT', '/v1/companies/contoso', { name: 'Contoso' });
    await client.request('PUT', '/v1/companies/contoso/sites/hq', { name: 'HQ' });

    const firstAt = minutesAgo(30);
    const first = await client.request('POST', '/v1/endpoints/status', status(firstAt, FAILED));
    expect(first.body).toEqual({ results: [{ endpointId: 'LAPTOP-042', result: 'applied' }] });
    const [entered] = await waitForAlerts(1);
    expect(entered).toMatchObject({
      Subject: 'BitLocker Key Backup Failed: LAPTOP-042 (Contoso / HQ)',
      MessageStructure: 'json',
      MessageAttributes: {
        groupId: { DataType: 'String', StringValue: 'bitlocker-key-backup-failed' },
        event: { DataType: 'String', StringValue: 'entered' },
        severity: { DataType: 'String', StringValue: 'high' },
      },
    });

    // The same observation again, and a newer one with the same value: no transition, no alert.
    await client.request('POST', '/v1/endpoints/status', status(firstAt, FAILED));
    await client.request('POST', '/v1/endpoints/status', status(minutesAgo(20), FAILED));
    await client.request('POST', '/v1/endpoints/status', status(minutesAgo(10), SUCCESS));
    const lines = await waitForAlerts(2);
    await pipeline.drained();
    expect(await alertLines()).toHaveLength(2);
    const exited = JSON.parse(String(lines[1]?.Message)) as { default: string; sms: string };
    expect(JSON.parse(exited.default)).toMatchObject({
      type: 'keywatch.group.exited',
      endpointId: 'LAPTOP-042',
    });
    expect(exited.sms.length).toBeLessThanOrEqual(140);

    const history = await client.request('GET', '/v1/transitions?endpointId=LAPTOP-042');
    const events = (history.body as { transitions: { groupId: string; event: string }[] }).transitions
      .filter((t) => t.groupId === 'bitlocker-key-backup-failed')
      .map((t) => t.event);
    expect(events).toEqual(['exited', 'entered']);

    const endpoint = await client.request('GET', '/v1/endpoints/LAPTOP-042');
    expect((endpoint.body as { groups: string[] }).groups).toEqual(['bitlocker-key-backup-successful']);
  });
});
