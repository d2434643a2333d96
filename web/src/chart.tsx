// Failures over time: endpoints in Failed per company per day for the last 30 days, rebuilt from the
// current counts and the Failed group's transitions (walked back day by day). uPlot: 50 KB, canvas.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { CompanyLine, Transition } from './api.ts';

const DAY = 86_400_000;
const COLOURS = ['#b3261e', '#1f5fa8', '#7a4f00', '#2e7d32', '#6a1b9a', '#00695c'];

export interface Series {
  label: string;
  values: number[];
}

/** Day starts (UTC, seconds) of the last `days` days and, per company, endpoints in Failed at each day's end. */
export function failureSeries(
  companies: readonly CompanyLine[],
  transitions: readonly Transition[],
  nowMs: number,
  days = 30,
): { x: number[]; series: Series[] } {
  const today = Math.floor(nowMs / DAY) * DAY;
  const x = Array.from({ length: days }, (_, i) => (today - (days - 1 - i) * DAY) / 1000);
  const byCompany = new Map<string, Transition[]>();
  for (const t of transitions)
    byCompany.set(t.companyId.toLowerCase(), [...(byCompany.get(t.companyId.toLowerCase()) ?? []), t]);
  const series = companies
    .filter((c) => c.failed > 0 || byCompany.has(c.companyId.toLowerCase()))
    .map((c) => {
      const ts = byCompany.get(c.companyId.toLowerCase()) ?? [];
      const values: number[] = [];
      let count = c.failed;
      // Walk back from now: a day's end value is the count before the later days' transitions.
      for (let i = days - 1; i >= 0; i--) {
        values[i] = Math.max(0, count);
        const start = today - (days - 1 - i) * DAY;
        for (const t of ts) {
          const at = Date.parse(t.occurredAt);
          if (at >= start && at < start + DAY) count += t.event === 'entered' ? -1 : 1;
        }
      }
      return { label: c.name ?? c.companyId, values, peak: Math.max(...values) };
    })
    .sort((a, b) => b.peak - a.peak)
    .slice(0, COLOURS.length)
    .map(({ label, values }) => ({ label, values }));
  return { x, series };
}

export function FailureChart(props: { x: number[]; series: Series[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (host.current === null || props.series.length === 0) return;
    const plot = new uPlot(
      {
        width: Math.min(900, host.current.clientWidth || 900),
        height: 220,
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { label: 'endpoints in Failed' }],
        series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i], width: 2 }))],
      },
      [props.x, ...props.series.map((s) => s.values)],
      host.current,
    );
    return () => plot.destroy();
  }, [props.x, props.series]);
  if (props.series.length === 0) return <p>No failures in the last 30 days.</p>;
  return (
    <figure>
      <div ref={host} role="img" aria-label="Endpoints in Failed per company, last 30 days" />
      <figcaption>Endpoints in Failed at the end of each day, last 30 days, per company.</figcaption>
    </figure>
  );
}
