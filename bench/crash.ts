// Crash recovery (issue 10, part 1): `npm start` with KEYWATCH_DATA_DIR under a load of signed status
// reports, its whole process group (npm, node, the DynamoDB Local JVM) SIGKILLed at a random moment,
// started again on the same data directory and alerts file, and left to drain. Then: every report
// answered `applied` is stored, every transition the stored reports imply for the alerting shipped
// groups is recorded (none missing, none extra), and each alerted transition has exactly one line in
// the alerts file. CRASH_SEED=<n> repeats the random choices (statuses, pauses, kill moments); CRASH_RUNS=<n> sets the runs.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Random, seededRandom } from '#test/helpers/random.ts';
import { createClient } from '../local/client.ts';
import { alertLines, compareTransitions, Fleet, recordedTransitions } from './crash-load.ts';
import { type Instance, startInstance } from './crash-process.ts';
import type { BenchReport } from './run.ts';
import { report, writeResult } from './support.ts';

const NAME = 'crash';
const RUNS = Number(process.env.CRASH_RUNS ?? 5);
const ENDPOINTS = 40;
/** Each endpoint pauses up to this long between its reports. */
const PAUSE_MS = 40;
/** The kill falls uniformly within this window after the load starts. */
const KILL_WINDOW_MS = [500, 6_000] as const;
const REPORTS_AFTER_RESTART = 3;
const CONVERGE_TIMEOUT_MS = 60_000;
/** After the checks first pass: long enough for a late duplicate (a retried publish) to show. */
const SETTLE_MS = 5_000;
const SECRET = 'crash-bench-secret';
const LOCAL_FILE = '.keywatch/local.json';

interface Findings {
  lostApplied: number;
  missingTransitions: number;
  extraTransitions: number;
  missingAlerts: number;
  duplicateAlerts: number;
  strayAlerts: number;
  corruptLines: number;
  expectedTransitions: number;
  recorded: number;
  alerted: number;
  alertLines: number;
}

async function check(
  fleet: Fleet,
  client: ReturnType<typeof createClient>,
  alertsFile: string,
): Promise<Findings> {
  const expected = fleet.expectedTransitions();
  const recorded = await recordedTransitions(client);
  const { missing: missingTransitions, extra: extraTransitions } = compareTransitions(expected, recorded);
  const alerted = new Set(recorded.filter((t) => t.alert).map((t) => t.transitionId));
  const lines = await alertLines(alertsFile);
  let missingAlerts = 0;
  let duplicateAlerts = 0;
  for (const id of alerted) {
    const n = lines.byTransition.get(id) ?? 0;
    if (n === 0) missingAlerts++;
    else duplicateAlerts += n - 1;
  }
  let strayAlerts = 0;
  let alertLineCount = 0;
  for (const [id, n] of lines.byTransition) {
    alertLineCount += n;
    if (!alerted.has(id)) strayAlerts += n;
  }
  return {
    lostApplied: (await fleet.lostApplied(client)).length,
    missingTransitions,
    extraTransitions,
    missingAlerts,
    duplicateAlerts,
    strayAlerts,
    corruptLines: lines.corrupt,
    expectedTransitions: [...expected.values()].reduce((a, b) => a + b, 0),
    recorded: recorded.length,
    alerted: alerted.size,
    alertLines: alertLineCount + lines.corrupt,
  };
}

const clean = (f: Findings) =>
  f.lostApplied + f.missingTransitions + f.extraTransitions + f.missingAlerts + f.duplicateAlerts === 0 &&
  f.strayAlerts + f.corruptLines === 0;

async function oneRun(run: number, random: Random) {
  const dataDir = await mkdtemp(join(tmpdir(), 'keywatch-crash-'));
  const alertsFile = join(dataDir, 'alerts.jsonl');
  const opts = { dataDir: join(dataDir, 'db'), alertsFile, secret: SECRET };
  const fleet = new Fleet(
    Array.from({ length: ENDPOINTS }, (_, i) => `crash-${run}-${String(i).padStart(3, '0')}`),
  );
  const killAtMs = Math.round(KILL_WINDOW_MS[0] + random() * (KILL_WINDOW_MS[1] - KILL_WINDOW_MS[0]));

  const first = await startInstance(opts);
  let killed = false;
  const loading = fleet.load(createClient({ url: first.url, secret: SECRET }), random, {
    until: () => killed,
    pauseMs: PAUSE_MS,
  });
  await sleep(killAtMs);
  await first.kill();
  killed = true;
  await loading;
  const sent = fleet.count('applied') + fleet.count('unanswered') + fleet.count('refused');

  let second: Instance | undefined;
  try {
    second = await startInstance(opts);
    const client = createClient({ url: second.url, secret: SECRET });
    await fleet.resolveUnanswered(client);
    const unanswered = [...fleet.reports.values()].flat().filter((r) => r.outcome === 'unanswered');
    const restartedAt = performance.now();
    await fleet.load(client, random, { count: REPORTS_AFTER_RESTART, pauseMs: 0 });
    let findings = await check(fleet, client, alertsFile);
    while (!clean(findings) && performance.now() - restartedAt < CONVERGE_TIMEOUT_MS) {
      await sleep(500);
      findings = await check(fleet, client, alertsFile);
    }
    const convergedMs = performance.now() - restartedAt;
    await sleep(SETTLE_MS);
    findings = await check(fleet, client, alertsFile);
    const pass = clean(findings);
    console.log(
      `run ${run}: killed ${(killAtMs / 1000).toFixed(2)} s into the load after ${sent} reports ` +
        `(${fleet.count('applied')} applied before the kill or after, ${unanswered.length} unanswered, ` +
        `${unanswered.filter((r) => r.stored).length} of them stored, ${fleet.count('refused')} refused); ` +
        `restart ready in ${(second.readyMs / 1000).toFixed(1)} s, converged ${(convergedMs / 1000).toFixed(1)} s later`,
    );
    console.log(
      `  transitions ${findings.recorded} recorded / ${findings.expectedTransitions} implied ` +
        `(${findings.missingTransitions} missing, ${findings.extraTransitions} extra); alert lines ` +
        `${findings.alertLines} for ${findings.alerted} alerted transitions (${findings.missingAlerts} missing, ` +
        `${findings.duplicateAlerts} twice, ${findings.strayAlerts} stray, ${findings.corruptLines} corrupt); ` +
        `applied but not stored ${findings.lostApplied}  ${pass ? 'ok' : 'FAILED'}`,
    );
    if (!pass) {
      console.log(`  kept for inspection: ${dataDir}`);
      for (const line of second.output.slice(-15)) console.log(`  | ${line}`);
    }
    return { run, killAtMs, sent, unanswered: unanswered.length, convergedMs, findings, pass, dataDir };
  } finally {
    await second?.stop();
  }
}

export async function run(): Promise<BenchReport> {
  const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const random = seededRandom(seed);
  console.log(
    `seed ${seed} (CRASH_SEED=${seed} repeats it): ${RUNS} runs, ${ENDPOINTS} endpoints reporting, ` +
      `SIGKILL of the process group ${KILL_WINDOW_MS[0] / 1000}–${KILL_WINDOW_MS[1] / 1000} s into the load`,
  );
  // npm start records its address here; put back what a developer's own instance wrote.
  const localBefore = await readFile(LOCAL_FILE, 'utf8').catch(() => undefined);
  const runs: Awaited<ReturnType<typeof oneRun>>[] = [];
  try {
    for (let i = 1; i <= RUNS; i++) {
      const result = await oneRun(i, random);
      runs.push(result);
      if (result.pass) await rm(result.dataDir, { recursive: true, force: true });
    }
  } finally {
    if (localBefore === undefined) await rm(LOCAL_FILE, { force: true });
    else await writeFile(LOCAL_FILE, localBefore, { mode: 0o600 });
  }
  const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((n, r) => n + f(r), 0);
  const moments = runs.map((r) => `${(r.killAtMs / 1000).toFixed(2)} s`).join(', ');
  const budgets = [
    {
      budget: 'every applied report stored after SIGKILL',
      measured: `${sum((r) => r.findings.lostApplied)} lost over ${RUNS} kills (${moments})`,
      pass: runs.every((r) => r.findings.lostApplied === 0),
    },
    {
      budget: 'every implied transition recorded once',
      measured: `${sum((r) => r.findings.missingTransitions)} missing, ${sum((r) => r.findings.extraTransitions)} extra of ${sum((r) => r.findings.expectedTransitions)}`,
      pass: runs.every((r) => r.findings.missingTransitions + r.findings.extraTransitions === 0),
    },
    {
      budget: 'exactly one alert line per alerted transition',
      measured:
        `${sum((r) => r.findings.alertLines)} lines / ${sum((r) => r.findings.alerted)} alerted: ` +
        `${sum((r) => r.findings.missingAlerts)} missing, ${sum((r) => r.findings.duplicateAlerts)} twice, ` +
        `${sum((r) => r.findings.strayAlerts + r.findings.corruptLines)} stray or corrupt`,
      pass: runs.every(
        (r) =>
          r.findings.missingAlerts +
            r.findings.duplicateAlerts +
            r.findings.strayAlerts +
            r.findings.corruptLines ===
          0,
      ),
    },
  ];
  await writeResult(NAME, { seed, runs: runs.map(({ dataDir: _, ...r }) => r), budgets });
  return report(budgets);
}
