// The DynamoDB Local download: fetched once into a per-user cache, checked against a pinned
// integrity before anything is unpacked, and published with one rename so concurrent first runs
// (parallel test workers, two terminals) never see a half-written copy.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

const DYNAMODB_LOCAL_VERSION = '1.25.1';
export const JAR = 'DynamoDBLocal.jar';

/** Where the tarball comes from: an npm package whose `package/emulator/` holds the jar. */
export interface PackageSource {
  /** Named in progress and error messages. */
  readonly spec: string;
  /** The tarball's sha512 SRI, as npm records it. */
  readonly integrity: string;
  /** Puts the tarball into `dir` (a fresh temporary directory) and returns its path. */
  fetch(dir: string): Promise<string>;
}

// The AWS Amplify CLI republishes DynamoDB Local on npm; only its `emulator/` folder is used, the
// package itself (and its 280 dependencies) is never installed.
const NPM_SPEC = 'amplify-dynamodb-simulator@2.9.30';
const NPM_SOURCE: PackageSource = {
  spec: NPM_SPEC,
  integrity:
    'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==',
  async fetch(dir) {
    const pack = run('npm', ['pack', NPM_SPEC, '--pack-destination', dir, '--json', '--ignore-scripts']);
    const [packed] = JSON.parse(pack) as { filename: string }[];
    if (packed === undefined) throw new Error(`npm pack ${NPM_SPEC} reported no file`);
    return join(dir, packed.filename);
  },
};

/** `<cacheDir>/dynamodb-local-1.25.1`, cacheDir defaulting to env KEYWATCH_CACHE_DIR or ~/.cache/keywatch. */
function installDir(cacheDir?: string): string {
  const root = cacheDir ?? process.env.KEYWATCH_CACHE_DIR ?? join(homedir(), '.cache', 'keywatch');
  return join(root, `dynamodb-local-${DYNAMODB_LOCAL_VERSION}`);
}

const pending = new Map<string, Promise<string>>();

/** Returns the directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/, fetching it on first use. */
export function ensureDynamoDbLocal(
  opts: { cacheDir?: string; source?: PackageSource } = {},
): Promise<string> {
  const dir = installDir(opts.cacheDir);
  let p = pending.get(dir);
  if (p === undefined) {
    p = install(dir, opts.source ?? NPM_SOURCE);
    pending.set(dir, p);
    p.catch(() => pending.delete(dir));
  }
  return p;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function install(dir: string, source: PackageSource): Promise<string> {
  if (await exists(join(dir, JAR))) return dir;
  const root = join(dir, '..');
  await mkdir(root, { recursive: true });
  await sweepStaleTemps(root);
  const started = Date.now();
  process.stderr.write(`Fetching DynamoDB Local ${DYNAMODB_LOCAL_VERSION} (${source.spec}) ... `);
  // Each process works in its own temp dir on the same filesystem and publishes with one rename:
  // concurrent first runs each produce a complete copy and the first rename wins.
  const tmp = await mkdtemp(join(root, '.tmp-dynamodb-local-'));
  try {
    const tarball = await source.fetch(tmp);
    const integrity = await sha512Integrity(tarball);
    if (integrity !== source.integrity) {
      throw new Error(`${source.spec} integrity mismatch: expected ${source.integrity}, got ${integrity}`);
    }
    run('tar', ['-xzf', tarball, '-C', tmp, 'package/emulator']);
    if (!(await exists(join(tmp, 'package', 'emulator', JAR)))) {
      throw new Error(`${source.spec} does not contain package/emulator/${JAR}`);
    }
    try {
      await rename(join(tmp, 'package', 'emulator'), dir);
    } catch (e: unknown) {
      // Another process published first: its copy is as good as ours.
      if (!(await exists(join(dir, JAR)))) throw e;
    }
    process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    return dir;
  } catch (e: unknown) {
    process.stderr.write('failed\n');
    throw e;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Temp dirs left by a process killed mid-download; an hour is far longer than any download. */
async function sweepStaleTemps(root: string): Promise<void> {
  const cutoff = Date.now() - 3_600_000;
  for (const name of await readdir(root)) {
    if (!name.startsWith('.tmp-dynamodb-local-')) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && info.mtimeMs < cutoff) await rm(path, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

async function sha512Integrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}
