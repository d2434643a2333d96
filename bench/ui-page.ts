// The status page's weight and first paint, locally, in headless Chromium (Debian's, or CHROMIUM):
// bytes of every response the signed-in summary view loads (as sent by `npm start`, uncompressed, and
// gzipped as CloudFront would send them), first contentful paint of a reload, and the API calls the
// view makes in its first 3 s.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { ensureWebBuild } from '../local/web-build.ts';
import type { BenchReport } from './run.ts';
import {
  inChildProcess,
  isMain,
  median,
  ms,
  quietPipeline,
  report,
  runAsMain,
  writeResult,
} from './support.ts';

const NAME = 'ui-page';
const RELOADS = 5;

async function measure(): Promise<BenchReport> {
  const staticDir = await ensureWebBuild();
  const secret = randomBytes(16).toString('hex');
  const { pipeline } = await quietPipeline(NAME, { staticDir, secret });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${pipeline.url}/`);
    await page.getByLabel('Admin secret').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Key backup status' }).waitFor();

    const paints: number[] = [];
    let bytes = 0;
    let gzipped = 0;
    const api: string[] = [];
    for (let i = 0; i < RELOADS; i++) {
      const files: Promise<void>[] = [];
      const onResponse = (res: import('playwright-core').Response) => {
        const path = new URL(res.url()).pathname;
        if (path.startsWith('/v1/')) {
          if (i === 0) api.push(path);
          return;
        }
        if (i === 0)
          files.push(
            res.body().then((b) => {
              bytes += b.length;
              gzipped += gzipSync(b).length;
            }),
          );
      };
      page.on('response', onResponse);
      await page.reload();
      await page.getByRole('heading', { name: 'Key backup status' }).waitFor();
      const fcp = await page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1",
      );
      paints.push(Number(fcp));
      if (i === 0) await page.waitForTimeout(3000);
      page.off('response', onResponse);
      await Promise.all(files);
    }
    const fcp = median(paints);
    console.log(
      `page weight: ${(bytes / 1024).toFixed(1)} KiB as served locally, ${(gzipped / 1024).toFixed(1)} KiB gzipped`,
    );
    console.log(
      `first contentful paint (signed-in reload): median ${ms(fcp)} of ${paints.map((p) => p.toFixed(0)).join(', ')}`,
    );
    console.log(`API calls in the first 3 s: ${api.length} (${[...new Set(api)].join(', ')})`);
    const budgets = [
      {
        budget: 'status page: everything in the build, ≤ 100 KiB gzipped',
        measured: `${(gzipped / 1024).toFixed(1)} KiB gzipped (${(bytes / 1024).toFixed(1)} KiB raw)`,
        pass: gzipped <= 100 * 1024,
      },
      {
        budget: 'status page: first contentful paint ≤ 1 s locally',
        measured: ms(fcp),
        pass: fcp > 0 && fcp <= 1000,
      },
    ];
    await writeResult(NAME, { bytes, gzipped, paints, api, budgets });
    return report(budgets);
  } finally {
    await browser.close();
    await pipeline.stop();
  }
}

export const run = (): Promise<BenchReport> => inChildProcess(import.meta.url, NAME);

if (isMain(import.meta.url)) await runAsMain(measure);
