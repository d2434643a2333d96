// `npm start`: the whole keywatch pipeline on this machine (see README "Quick start").
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { faultsFromEnv } from './faults.ts';
import { startPipeline } from './pipeline.ts';
import { ensureWebBuild } from './web-build.ts';

const LOCAL_FILE = '.keywatch/local.json';
const started = Date.now();
const port = Number(process.env.PORT || 3000);
const dataDir = process.env.KEYWATCH_DATA_DIR || undefined;
const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
const logLevel = LOG_LEVELS.find((l) => l === process.env.POWERTOOLS_LOG_LEVEL?.toUpperCase());
const faults = (() => {
  try {
    return faultsFromEnv();
  } catch (e: unknown) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
})();

const staticDir = await ensureWebBuild((line) => console.log(line));
const pipeline = await startPipeline({
  port,
  staticDir,
  ...(process.env.KEYWATCH_SECRET ? { secret: process.env.KEYWATCH_SECRET } : {}),
  ...(dataDir ? { dataDir } : {}),
  ...(process.env.ALERT_TOPIC_ARN ? { topicArn: process.env.ALERT_TOPIC_ARN } : {}),
  ...(process.env.KEYWATCH_ALERTS_FILE ? { alertsFile: process.env.KEYWATCH_ALERTS_FILE } : {}),
  ...(logLevel ? { logLevel } : {}),
  ...(faults ? { faults } : {}),
  ...(process.env.KEYWATCH_SEAL_KEY ? { sealKey: Buffer.from(process.env.KEYWATCH_SEAL_KEY, 'base64') } : {}),
}).catch((e: unknown) => {
  const inUse = e instanceof Error && (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
  const hint = inUse ? ` (another keywatch? choose a free port with PORT=…)` : '';
  console.error(`keywatch failed to start: ${e instanceof Error ? e.message : String(e)}${hint}`);
  process.exit(1);
});

// So `npm run send` in another terminal finds this instance without copying the secret around.
await mkdir('.keywatch', { recursive: true });
// `npm run replay` finds the table and the parked batches here too.
const local = {
  url: pipeline.url,
  secret: pipeline.secret,
  dynamodbEndpoint: pipeline.dynamodbEndpoint,
  tableName: pipeline.tableName,
  parkedFile: pipeline.parking.path,
};
await writeFile(LOCAL_FILE, JSON.stringify(local), { mode: 0o600 });

const secretLine = pipeline.secretGenerated
  ? `${pipeline.secret}   (generated; set KEYWATCH_SECRET to choose one)`
  : '(from KEYWATCH_SECRET)';
console.log(`
keywatch is running (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)
  API        ${pipeline.url}
  status     ${pipeline.url}/   (the status page: sign in with the secret)
  secret     ${secretLine}
  DynamoDB   ${pipeline.dynamodbEndpoint}  table ${pipeline.tableName}  ${pipeline.dataDir ? `data in ${pipeline.dataDir}` : 'in memory (set KEYWATCH_DATA_DIR to keep data)'}
  alerts     ${pipeline.alerts}
  parked     ${pipeline.parking.path}  (stream batches given up; \`npm run replay\` re-drives them)${faults ? `\n  FAULTS     ${faults.summary()}` : ''}
  try        npm run send -- status --endpoint LAPTOP-042 --company contoso --site hq --status "| C: - FAILED - 123456-789012; Azure AD |"
Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping keywatch...`);
  await pipeline.stop();
  if (faults) console.log(faults.summary());
  const parked = Object.entries(pipeline.parking.counts());
  if (parked.length > 0) {
    console.log(
      `parked: ${parked.map(([c, n]) => `${n} ${c} batches`).join(', ')} in ${pipeline.parking.path}`,
    );
  }
  // Forget this instance's address unless another instance has written its own since.
  try {
    const current = JSON.parse(await readFile(LOCAL_FILE, 'utf8')) as { url?: string };
    if (current.url === pipeline.url) await rm(LOCAL_FILE, { force: true });
  } catch {
    // nothing to forget
  }
  console.log('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
