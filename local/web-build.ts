// The status page's build for `npm start` and the browser tests: web/dist is generated, not committed,
// and built here (Vite, ≈1 s) when missing or older than its sources, so `npm ci && npm start` works on
// a fresh clone and never serves a page older than the code beside it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const WEB_ROOT = join(import.meta.dirname, '..', 'web');
export const WEB_DIST = join(WEB_ROOT, 'dist');

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export async function ensureWebBuild(log: (line: string) => void = () => {}): Promise<string> {
  const index = join(WEB_DIST, 'index.html');
  const sources = Math.max(
    newest(join(WEB_ROOT, 'src')),
    newest(join(WEB_ROOT, 'index.html')),
    newest(join(WEB_ROOT, 'vite.config.ts')),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return WEB_DIST;
  log('building the status page (web/ → web/dist)…');
  const { build } = await import('vite');
  // Vite takes the bundle's NODE_ENV from the process: under the test runner it is `test`, which
  // would keep libraries' development branches. The page is always built as it ships.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ configFile: join(WEB_ROOT, 'vite.config.ts'), mode: 'production', logLevel: 'warn' });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return WEB_DIST;
}
