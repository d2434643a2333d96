// The status page in a real browser (headless Chromium through playwright-core) against the same
// wiring as `npm start`: sign-in, a company whose endpoint just reported FAILED appearing without a
// reload, drill-down to the endpoint and its history, the groups, and axe with no serious violation.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from '#local/client.ts';
import { type Pipeline, startPipeline } from '#local/pipeline.ts';
import { ensureWebBuild } from '#local/web-build.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import { dynamoEndpoint } from '#test/helpers/dynamo.ts';

const SECRET = `ui-${randomBytes(12).toString('hex')}`;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let pipeline: Pipeline;
let client: Client;
let browser: Browser;
let page: Page;

const report = (endpointId: string, companyId: string, status: string) => ({
  updates: [
    {
      endpointId,
      companyId,
      siteId: 'hq',
      hostname: endpointId,
      osType: 'Windows',
      endpointType: 'Laptop',
      observedAt: new Date().toISOString(),
      fields: { 'BitLocker Key Backup Status': status },
    },
  ],
});

/** Serious and critical axe findings on the page as it is now. */
async function seriousViolations(): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM`);
  const staticDir = await ensureWebBuild();
  pipeline = await startPipeline({
    port: 0,
    dynamodbEndpoint: await dynamoEndpoint(),
    tableName: `ui-${randomBytes(4).toString('hex')}`,
    secret: SECRET,
    staticDir,
    log: () => undefined,
    publisher: { publish: async () => undefined } as never,
  });
  client = createClient({ url: pipeline.url, secret: SECRET });
  await client.request('PUT', '/v1/companies/contoso', { name: 'Contoso' });
  await client.request('POST', '/v1/endpoints/status', report('DESK-001', 'fabrikam', SCRIPT_OUTPUT.success));
  await pipeline.drained();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
});

describe('status page', () => {
  it('asks for the secret, signs in, and keeps no secret in the browser', async () => {
    await page.goto(`${pipeline.url}/`);
    await page.getByLabel('Admin secret').waitFor();
    expect(await seriousViolations()).toEqual([]);
    await page.getByLabel('Admin secret').fill(SECRET);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Key backup status' }).waitFor();
    // Evaluated in the page (a string: the DOM's globals are not Node's types).
    const stored = String(
      await page.evaluate('JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie'),
    );
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain('kw_session');
    const cookies = await page.context().cookies();
    expect(cookies).toEqual([
      expect.objectContaining({ name: 'kw_session', httpOnly: true, sameSite: 'Strict', path: '/v1' }),
    ]);
  });

  it('shows a company whose endpoint just reported FAILED without a reload', async () => {
    await page.getByRole('rowheader', { name: 'fabrikam' }).waitFor();
    const sent = Date.now();
    await client.request(
      'POST',
      '/v1/endpoints/status',
      report('LAPTOP-042', 'contoso', SCRIPT_OUTPUT.failed),
    );
    const summary = page.getByRole('table', { name: /^Companies/ });
    const row = summary.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Contoso' }) });
    // Endpoints reporting, Failed, Key Missing, not reporting: the endpoint and its failure counted.
    const cells = async () =>
      (await row.count()) === 1 ? await row.getByRole('cell').allTextContents() : [];
    const deadline = Date.now() + 10_000;
    while (JSON.stringify(await cells()) !== '["1","1","0","0"]' && Date.now() < deadline)
      await page.waitForTimeout(50);
    console.log(`FAILED report → company row on the page: ${Date.now() - sent} ms`);
    expect(await cells()).toEqual(['1', '1', '0', '0']);
    await page.getByText('LAPTOP-042').first().waitFor();
    expect(await seriousViolations()).toEqual([]);
  });

  it('drills down to the company, the failing endpoint and its history', async () => {
    await page.getByRole('link', { name: 'Contoso' }).click();
    await page.getByRole('heading', { name: 'Contoso', level: 1 }).waitFor();
    await page.getByText('1 endpoints reporting, 1 in Failed').waitFor();
    const failed = page.getByRole('region', { name: 'BitLocker Key Backup Failed' });
    await failed.getByText(SCRIPT_OUTPUT.failed).waitFor();
    expect(await seriousViolations()).toEqual([]);
    await failed.getByRole('link', { name: 'LAPTOP-042' }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await page.getByRole('cell', { name: 'BitLocker Key Backup Failed' }).first().waitFor();
    expect(await page.getByRole('cell', { name: 'entered', exact: true }).count()).toBeGreaterThan(0);
    expect(await page.getByRole('listitem').allTextContents()).toContain('bitlocker-key-backup-failed');
    expect(await seriousViolations()).toEqual([]);
  });

  it('lists every group with its member count and definition', async () => {
    await page.getByRole('link', { name: 'Groups' }).click();
    const row = page.getByRole('row').filter({ hasText: 'bitlocker-key-backup-failed' });
    await row.waitFor();
    expect(await page.getByRole('row').count()).toBe(5);
    expect(await row.getByRole('cell').first().textContent()).toBe('1');
    expect(await seriousViolations()).toEqual([]);
    if (process.env.UPDATE_SCREENSHOT === '1') {
      await page.getByRole('link', { name: 'Companies' }).click();
      await page.getByRole('rowheader', { name: 'Contoso', exact: true }).waitFor();
      await page.waitForTimeout(500);
      await page.screenshot({
        path: join(import.meta.dirname, '..', '..', 'docs', 'status-page.png'),
        fullPage: true,
      });
    }
  });

  it('signs out, after which the cookie reads nothing', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin secret').waitFor();
    const res = await page.evaluate(async () => (await fetch('/v1/companies')).status);
    expect(res).toBe(401);
  });
});
