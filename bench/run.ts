// `npm run bench [filter]`: runs each benchmark module whose name contains the filter, one after the
// other in this process, and prints every budget of DESIGN §7 they measured with PASS or FAIL.
// Benchmarks are never part of `npm test`.

export interface BudgetResult {
  /** What DESIGN §7 asks, e.g. "engine ≥ 1.0× json-logic-engine". */
  readonly budget: string;
  /** What this run measured, e.g. "1.42×". */
  readonly measured: string;
  readonly pass: boolean;
}

export interface BenchReport {
  readonly budgets: readonly BudgetResult[];
}

export interface BenchModule {
  run(): Promise<BenchReport>;
}

/** Every benchmark, in the order they run. Add new ones here. */
const BENCHES: readonly { readonly name: string; readonly load: () => Promise<BenchModule> }[] = [
  { name: 'criteria', load: () => import('./criteria.ts') },
  { name: 'e2e', load: () => import('./e2e.ts') },
  { name: 'fanout', load: () => import('./fanout.ts') },
  { name: 'fleet', load: () => import('./fleet.ts') },
  { name: 'ingest-cost', load: () => import('./ingest-cost.ts') },
  { name: 'bundles', load: () => import('./bundles.ts') },
  { name: 'crash', load: () => import('./crash.ts') },
  { name: 'tick', load: () => import('./tick.ts') },
  { name: 'ui-summary', load: () => import('./ui-summary.ts') },
  { name: 'ui-page', load: () => import('./ui-page.ts') },
  { name: 'faults', load: () => import('./faults.ts') },
];

async function main(filter: string | undefined): Promise<void> {
  const selected = BENCHES.filter((b) => filter === undefined || b.name.includes(filter));
  if (selected.length === 0) {
    console.error(`No benchmark matches "${filter}". Known: ${BENCHES.map((b) => b.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const summary: (BudgetResult & { bench: string })[] = [];
  for (const bench of selected) {
    console.log(`\n=== ${bench.name} ===`);
    const module = await bench.load();
    const report = await module.run();
    summary.push(...report.budgets.map((b) => ({ ...b, bench: bench.name })));
  }

  console.log('\n=== summary ===');
  const width = Math.max(...summary.map((s) => s.budget.length), 6);
  for (const s of summary) {
    console.log(
      `${s.pass ? 'PASS' : 'FAIL'}  ${s.bench.padEnd(10)} ${s.budget.padEnd(width)}  ${s.measured}`,
    );
  }
  if (summary.some((s) => !s.pass)) process.exitCode = 1;
}

await main(process.argv[2]);
