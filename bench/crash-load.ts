// The crash benchmark's load and its bookkeeping: one sequential stream of signed status reports per
// endpoint (so at most one report per endpoint is unanswered when the pipeline dies), what the stored
// sequence implies for the alerting shipped groups, and what the API and the alerts file show.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SHIPPED_GROUP_IDS } from '#core/group-pack.ts';
import { SCRIPT_OUTPUT } from '#test/fixtures/script-outputs.ts';
import type { Random } from '#test/helpers/random.ts';
import type { Client } from '../local/client.ts';

export const COMPANY = 'crash-co';
const FAILED = SHIPPED_GROUP_IDS.failed;
const MISSING = SHIPPED_GROUP_IDS.missing;
export const WATCHED = [FAILED, MISSING] as const;

/** The statuses reports cycle through: FAILED ↔ success, a missing key, and neutral ones. */
const STATUSES: readonly string[] = [
  SCRIPT_OUTPUT.failed,
  SCRIPT_OUTPUT.success,
  SCRIPT_OUTPUT.failedTwoVolumes,
  SCRIPT_OUTPUT.success,
  SCRIPT_OUTPUT.keyNotFound,
  SCRIPT_OUTPUT.notJoined,
];

/** The shipped groups' conditions (text comparisons ignore case), written independently of them. */
export function membershipOf(status: string): Record<(typeof WATCHED)[number], boolean> {
  const s = status.toLowerCase();
  return {
    [FAILED]: s.includes('failed'),
    [MISSING]: s.includes('not available') || s.includes('key: not found'),
  } as Record<(typeof WATCHED)[number], boolean>;
}

export type Outcome = 'applied' | 'unanswered' | 'refused';

export interface Report {
  readonly observedAt: string;
  readonly status: string;
  outcome: Outcome;
  /** Resolved after the restart for an unanswered report: did it reach the table? */
  stored?: boolean;
}

export class Fleet {
  readonly reports = new Map<string, Report[]>();
  readonly ids: readonly string[];
  constructor(ids: readonly string[]) {
    this.ids = ids;
    for (const id of ids) this.reports.set(id, []);
  }

  /**
   * Sends reports for every endpoint until `until()` is true or the pipeline stops answering
   * (`count` reports each when given). A report without an answer ends that endpoint's stream.
   */
  async load(
    client: Client,
    random: Random,
    opts: {
      until?: () => boolean;
      count?: number;
      pauseMs: number;
      retries?: number;
      onError?: (e: unknown) => void;
    },
  ) {
    await Promise.all(
      this.ids.map(async (id) => {
        const list = this.reports.get(id) as Report[];
        for (let n = 0; opts.count === undefined || n < opts.count; n++) {
          if (opts.until?.() === true) return;
          const last = list.at(-1);
          const previous = last === undefined ? 0 : Date.parse(last.observedAt);
          let status = STATUSES[Math.floor(random() * STATUSES.length)] as string;
          if (status === last?.status)
            status = STATUSES[(STATUSES.indexOf(status) + 1) % STATUSES.length] as string;
          const report: Report = {
            observedAt: new Date(Math.max(Date.now(), previous + 1)).toISOString(),
            status,
            outcome: 'unanswered',
          };
          list.push(report);
          const result = await post(client, id, report, opts.retries ?? 0).catch((e: unknown) => {
            opts.onError?.(e);
            return undefined;
          });
          if (result === undefined) return;
          // After a retry, `unchanged` means an earlier attempt of this very report was stored.
          report.outcome = result === 'applied' || result === 'unchanged' ? 'applied' : 'refused';
          if (opts.pauseMs > 0) await sleep(random() * opts.pauseMs);
        }
      }),
    );
  }

  /** Finds out, from what is stored, whether each unanswered report was written. */
  async resolveUnanswered(client: Client): Promise<void> {
    for (const [id, list] of this.reports) {
      const last = list.at(-1);
      if (last?.outcome !== 'unanswered') continue;
      const stored = await storedObservedAt(client, id);
      last.stored = stored !== undefined && Date.parse(stored) === Date.parse(last.observedAt);
    }
  }

  /** Endpoints whose stored observedAt is earlier than an `applied` answer said. */
  async lostApplied(client: Client): Promise<string[]> {
    const lost: string[] = [];
    for (const [id, list] of this.reports) {
      const applied = list.filter((r) => r.outcome === 'applied').at(-1);
      if (applied === undefined) continue;
      const stored = await storedObservedAt(client, id);
      if (stored === undefined || Date.parse(stored) < Date.parse(applied.observedAt)) lost.push(id);
    }
    return lost;
  }

  /** `endpoint|group|event` → how many transitions the stored sequence of reports implies. */
  expectedTransitions(): Map<string, number> {
    const expected = new Map<string, number>();
    for (const [id, list] of this.reports) {
      let state = { [FAILED]: false, [MISSING]: false };
      for (const r of list) {
        if (!(r.outcome === 'applied' || (r.outcome === 'unanswered' && r.stored === true))) continue;
        const next = membershipOf(r.status);
        for (const g of WATCHED) {
          if (next[g] === state[g]) continue;
          const key = `${id}|${g}|${next[g] ? 'entered' : 'exited'}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        state = next;
      }
    }
    return expected;
  }

  count(outcome: Outcome): number {
    let n = 0;
    for (const list of this.reports.values()) n += list.filter((r) => r.outcome === outcome).length;
    return n;
  }
}

/** Sends one report; a 5xx (safe to retry, says the API) is sent again up to `retries` times. */
async function post(client: Client, endpointId: string, r: Report, retries = 0): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await postOnce(client, endpointId, r);
    } catch (e: unknown) {
      // A 5xx, or no answer at all (the connection failed): the report may or may not be stored,
      // and sending it again is safe (`unchanged` when it was).
      const retryable = e instanceof ServerError || (e instanceof TypeError && e.message === 'fetch failed');
      if (attempt >= retries || !retryable) throw e;
      await sleep(10 * 2 ** Math.min(attempt, 6));
    }
  }
}

class ServerError extends Error {
  override readonly name = 'ServerError';
}

async function postOnce(client: Client, endpointId: string, r: Report): Promise<string> {
  const res = await client.request('POST', '/v1/endpoints/status', {
    updates: [
      {
        endpointId,
        companyId: COMPANY,
        siteId: 'hq',
        observedAt: r.observedAt,
        hostname: endpointId.toUpperCase(),
        osType: 'Windows',
        endpointType: 'Laptop',
        fields: { 'BitLocker Key Backup Status': r.status },
      },
    ],
  });
  const result = (res.body as { results?: { result: string }[] }).results?.[0]?.result;
  if (res.status >= 500) throw new ServerError(`POST ${endpointId}: ${res.status} ${res.text}`);
  if (res.status !== 200 || result === undefined)
    throw new Error(`POST ${endpointId}: ${res.status} ${res.text}`);
  return result;
}

async function storedObservedAt(client: Client, id: string): Promise<string | undefined> {
  const res = await client.request('GET', `/v1/endpoints/${encodeURIComponent(id)}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET endpoint ${id}: ${res.status} ${res.text}`);
  return (res.body as { endpoint: { observedAt: string } }).endpoint.observedAt;
}

export interface RecordedTransition {
  readonly transitionId: string;
  readonly groupId: string;
  readonly endpointId: string;
  readonly event: string;
  readonly alert: boolean;
}

/** Every transition of the watched groups, through the paginated API. */
export async function recordedTransitions(client: Client): Promise<RecordedTransition[]> {
  const all: RecordedTransition[] = [];
  for (const groupId of WATCHED) {
    let cursor: string | undefined;
    do {
      const query = `groupId=${groupId}&limit=500${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const res = await client.request('GET', `/v1/transitions?${query}`);
      if (res.status !== 200) throw new Error(`GET transitions: ${res.status} ${res.text}`);
      const body = res.body as { transitions: RecordedTransition[]; cursor: string | null };
      all.push(...body.transitions);
      cursor = body.cursor ?? undefined;
    } while (cursor !== undefined);
  }
  return all;
}

/** The alerts file: transition id → lines, and lines that are not a whole Publish input. */
export async function alertLines(
  path: string,
): Promise<{ byTransition: Map<string, number>; corrupt: number }> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const byTransition = new Map<string, number>();
  let corrupt = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const input = JSON.parse(line) as { Message: string };
      const { transitionId } = JSON.parse((JSON.parse(input.Message) as { default: string }).default) as {
        transitionId: string;
      };
      byTransition.set(transitionId, (byTransition.get(transitionId) ?? 0) + 1);
    } catch {
      corrupt++;
    }
  }
  return { byTransition, corrupt };
}

/** Recorded transitions against those the applied reports imply, keyed `endpoint|group|event`. */
export function compareTransitions(
  expected: ReadonlyMap<string, number>,
  recorded: readonly RecordedTransition[],
): { missing: number; extra: number; missingKeys: string[] } {
  const counts = new Map<string, number>();
  for (const t of recorded) {
    const key = `${t.endpointId}|${t.groupId}|${t.event}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let missing = 0;
  let extra = 0;
  const missingKeys: string[] = [];
  for (const key of new Set([...expected.keys(), ...counts.keys()])) {
    const diff = (expected.get(key) ?? 0) - (counts.get(key) ?? 0);
    if (diff > 0) {
      missing += diff;
      if (missingKeys.length < 5) missingKeys.push(key);
    } else extra -= diff;
  }
  return { missing, extra, missingKeys };
}
