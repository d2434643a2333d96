// The keywatch status page: companies at a glance (Failed, Key Missing, not reporting), drill-down to
// a company's failing endpoints, an endpoint's fields, groups and history, every group, and a feed of
// transitions that refreshes itself. Hash routes, so any static host (S3) serves it as one file.
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  type CompanyEndpoint,
  type CompanyLine,
  type EndpointView,
  FAILED,
  type GroupLine,
  get,
  MISSING,
  SignedOut,
  signIn,
  signOut,
  type Transition,
} from './api.ts';
import { FailureChart, failureSeries } from './chart.tsx';
import './style.css';

const REFRESH_MS = 1500;

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** Polls `load` every REFRESH_MS while the tab is visible; a 401 signs the page out. */
function usePolled<T>(
  load: () => Promise<T>,
  deps: unknown[],
  onSignedOut: () => void,
  everyMs = REFRESH_MS,
) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const value = await load();
          if (!stop) {
            setData(value);
            setError(undefined);
          }
        } catch (e) {
          if (e instanceof SignedOut) return onSignedOut();
          if (!stop) setError(String(e instanceof Error ? e.message : e));
        }
      }
      if (!stop && everyMs > 0) timer = setTimeout(tick, everyMs);
    };
    void tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, deps);
  return { data, error };
}

const when = (iso: string | null) => (iso === null ? '—' : new Date(iso).toLocaleString());
const ago = (iso: string | null) => {
  if (iso === null) return '';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
};
const enc = encodeURIComponent;

function SignIn(props: { onDone: () => void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('secret') as HTMLInputElement;
    setBusy(true);
    try {
      await signIn(input.value);
      input.value = '';
      props.onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>keywatch status</h1>
      <form onSubmit={submit}>
        <label for="secret">Admin secret</label>
        <input id="secret" name="secret" type="password" autocomplete="off" required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error !== undefined && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <p class="hint">
          The secret signs one request for a read-only session cookie (8 hours) and is not kept by this page.
        </p>
      </form>
    </main>
  );
}

function Summary(props: { companies: CompanyLine[] | undefined }) {
  const list = props.companies;
  if (list === undefined) return <p>Loading…</p>;
  if (list.length === 0) return <p>No endpoint has reported yet.</p>;
  const asOf = list[0]?.staleAsOf ?? null;
  return (
    <table>
      <caption>
        Companies, most failures first. Not reporting: last report over 7 days ago (counted hourly
        {asOf === null ? '' : `, last ${ago(asOf)}`}).
      </caption>
      <thead>
        <tr>
          <th scope="col">Company</th>
          <th scope="col">Endpoints reporting</th>
          <th scope="col">Failed</th>
          <th scope="col">Key Missing</th>
          <th scope="col">Not reporting 7 days</th>
        </tr>
      </thead>
      <tbody>
        {list.map((c) => (
          <tr key={c.companyId} class={c.failed + c.keyMissing > 0 ? 'bad' : ''}>
            <th scope="row">
              <a href={`#/company/${enc(c.companyId)}`}>{c.name ?? c.companyId}</a>
            </th>
            <td>{c.endpoints}</td>
            <td>{c.failed}</td>
            <td>{c.keyMissing}</td>
            <td>{c.notReporting7d}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Feed(props: { transitions: Transition[] | undefined }) {
  const today = new Date().toDateString();
  return (
    <section aria-labelledby="feed">
      <h2 id="feed">Recent transitions</h2>
      <ol class="feed" aria-live="polite">
        {(props.transitions ?? []).map((t) => (
          <li key={t.transitionId} class={new Date(t.occurredAt).toDateString() === today ? 'today' : ''}>
            <time dateTime={t.occurredAt}>{ago(t.occurredAt)}</time>{' '}
            <a href={`#/endpoint/${enc(t.endpointId)}`}>{t.hostname ?? t.endpointId}</a> (
            {t.companyName ?? t.companyId}) {t.event} <strong>{t.groupName}</strong>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The Failed group's transitions of the last 30 days, newest first, at most 10 pages. */
async function failedTransitions(): Promise<Transition[]> {
  const since = Date.now() - 30 * 86_400_000;
  const out: Transition[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page++) {
    const q = `groupId=${FAILED}&limit=500${cursor === null ? '' : `&cursor=${enc(cursor)}`}`;
    const body: { transitions: Transition[]; cursor: string | null } = await get(`/v1/transitions?${q}`);
    out.push(...body.transitions.filter((t) => Date.parse(t.occurredAt) >= since));
    cursor = body.cursor;
    const last = body.transitions[body.transitions.length - 1];
    if (cursor === null || last === undefined || Date.parse(last.occurredAt) < since) break;
  }
  return out;
}

function Overview(props: { onSignedOut: () => void }) {
  const summary = usePolled(() => get<{ companies: CompanyLine[] }>('/v1/companies'), [], props.onSignedOut);
  const feed = usePolled(
    () => get<{ transitions: Transition[] }>('/v1/transitions?limit=20'),
    [],
    props.onSignedOut,
  );
  const history = usePolled(failedTransitions, [], props.onSignedOut, 60_000);
  const companies = summary.data?.companies;
  const chart =
    companies !== undefined && history.data !== undefined
      ? failureSeries(companies, history.data, Date.now())
      : undefined;
  return (
    <>
      <h1>Key backup status</h1>
      {summary.error !== undefined && (
        <p role="alert" class="error">
          {summary.error}
        </p>
      )}
      <Summary companies={companies} />
      <section aria-labelledby="chart">
        <h2 id="chart">Failures over time</h2>
        {chart === undefined ? <p>Loading…</p> : <FailureChart x={chart.x} series={chart.series} />}
      </section>
      <Feed transitions={feed.data?.transitions} />
    </>
  );
}

function EndpointRows(props: { title: string; endpoints: CompanyEndpoint[] | undefined }) {
  return (
    <section aria-label={props.title}>
      <h2>{props.title}</h2>
      {props.endpoints === undefined ? (
        <p>Loading…</p>
      ) : props.endpoints.length === 0 ? (
        <p>None.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Site</th>
              <th scope="col">Status text</th>
              <th scope="col">Since</th>
              <th scope="col">Last report</th>
            </tr>
          </thead>
          <tbody>
            {props.endpoints.map((e) => (
              <tr key={e.endpointId}>
                <th scope="row">
                  <a href={`#/endpoint/${enc(e.endpointId)}`}>{e.hostname ?? e.endpointId}</a>
                </th>
                <td>{e.siteId}</td>
                <td>
                  <code>{e.status ?? '—'}</code>
                </td>
                <td>
                  {when(e.since)} <span class="muted">({ago(e.since)})</span>
                </td>
                <td>{when(e.observedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Company(props: { companyId: string; onSignedOut: () => void }) {
  const base = `/v1/companies/${enc(props.companyId)}/endpoints?limit=500&groupId=`;
  const failed = usePolled(
    () => get<{ endpoints: CompanyEndpoint[] }>(base + FAILED),
    [props.companyId],
    props.onSignedOut,
  );
  const missing = usePolled(
    () => get<{ endpoints: CompanyEndpoint[] }>(base + MISSING),
    [props.companyId],
    props.onSignedOut,
  );
  // The company's line of the summary, for its name and counts (once; the lists below refresh).
  const summary = usePolled(
    () => get<{ companies: CompanyLine[] }>('/v1/companies'),
    [props.companyId],
    props.onSignedOut,
    0,
  );
  const line = summary.data?.companies.find(
    (c) => c.companyId.toLowerCase() === props.companyId.toLowerCase(),
  );
  return (
    <>
      <p>
        <a href="#/">← All companies</a>
      </p>
      <h1>{line?.name ?? props.companyId}</h1>
      {line !== undefined && (
        <p>
          {line.endpoints} endpoints reporting, {line.failed} in Failed, {line.keyMissing} in Key Missing,{' '}
          {line.notReporting7d} not reporting for 7 days.
        </p>
      )}
      <EndpointRows title="BitLocker Key Backup Failed" endpoints={failed.data?.endpoints} />
      <EndpointRows title="BitLocker Key Missing" endpoints={missing.data?.endpoints} />
    </>
  );
}

function Endpoint(props: { endpointId: string; onSignedOut: () => void }) {
  const view = usePolled(
    () => get<EndpointView>(`/v1/endpoints/${enc(props.endpointId)}`),
    [props.endpointId],
    props.onSignedOut,
  );
  const v = view.data;
  if (view.error !== undefined)
    return (
      <p role="alert" class="error">
        {view.error}
      </p>
    );
  if (v === undefined) return <p>Loading…</p>;
  const e = v.endpoint;
  return (
    <>
      <p>
        <a href={`#/company/${enc(e.companyId)}`}>← {v.company.name ?? e.companyId}</a>
      </p>
      <h1>{e.hostname ?? e.endpointId}</h1>
      <dl class="props">
        <dt>Endpoint id</dt>
        <dd>{e.endpointId}</dd>
        <dt>Company / site</dt>
        <dd>
          {v.company.name ?? e.companyId} / {v.site.name ?? e.siteId}
        </dd>
        <dt>OS / type</dt>
        <dd>
          {e.osType ?? '—'} / {e.endpointType ?? '—'}
        </dd>
        <dt>Last report</dt>
        <dd>
          {when(e.observedAt)} ({ago(e.observedAt)})
        </dd>
      </dl>
      <h2>Fields</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(v.effectiveFields).map(([k, val]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>
                <code>{val === null ? '—' : String(val)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Groups</h2>
      <ul>
        {v.groups.map((g) => (
          <li key={g}>{g}</li>
        ))}
      </ul>
      <h2>History</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Event</th>
            <th scope="col">Group</th>
            <th scope="col">Status text</th>
          </tr>
        </thead>
        <tbody>
          {v.transitions.map((t) => (
            <tr key={t.transitionId}>
              <td>{when(t.occurredAt)}</td>
              <td>{t.event}</td>
              <td>{t.groupName}</td>
              <td>
                <code>{t.statusText ?? '—'}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Groups(props: { onSignedOut: () => void }) {
  const groups = usePolled(
    async () => {
      const { groups } = await get<{ groups: GroupLine[] }>('/v1/groups');
      return Promise.all(
        groups.map(async (g) => ({
          ...g,
          definition: await get<Record<string, unknown>>(`/v1/groups/${enc(g.id)}`),
        })),
      );
    },
    [],
    props.onSignedOut,
    10_000,
  );
  return (
    <>
      <h1>Groups</h1>
      {groups.data === undefined ? (
        <p>Loading…</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Members</th>
              <th scope="col">Alert</th>
              <th scope="col">Definition</th>
            </tr>
          </thead>
          <tbody>
            {groups.data.map((g) => (
              <tr key={g.id}>
                <th scope="row">
                  {g.name}
                  <br />
                  <span class="muted">{g.id}</span>
                </th>
                <td>{g.memberCount}</td>
                <td>
                  {g.alert === null || g.alert.on.length === 0
                    ? '—'
                    : `${g.alert.on.join(', ')} (${g.alert.severity})`}
                </td>
                <td>
                  <details>
                    <summary>criteria</summary>
                    <pre>{JSON.stringify(g.definition.blocks ?? g.definition.criteria, null, 1)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function App() {
  const hash = useHash();
  const [signedIn, setSignedIn] = useState<boolean | undefined>(undefined);
  const onSignedOut = useCallback(() => setSignedIn(false), []);
  useEffect(() => {
    get('/v1/companies').then(
      () => setSignedIn(true),
      (e) => setSignedIn(!(e instanceof SignedOut)),
    );
  }, []);
  if (signedIn === undefined)
    return (
      <main>
        <p>Loading…</p>
      </main>
    );
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} />;
  const [, route, id] = /^#\/(company|endpoint|groups)?\/?(.*)$/.exec(hash) ?? [];
  const param = decodeURIComponent(id ?? '');
  return (
    <>
      <header>
        <nav aria-label="Main">
          <a href="#/">Companies</a>
          <a href="#/groups">Groups</a>
          <button
            type="button"
            onClick={async () => {
              await signOut();
              setSignedIn(false);
            }}
          >
            Sign out
          </button>
        </nav>
      </header>
      <main>
        {route === 'company' ? (
          <Company companyId={param} onSignedOut={onSignedOut} />
        ) : route === 'endpoint' ? (
          <Endpoint endpointId={param} onSignedOut={onSignedOut} />
        ) : route === 'groups' ? (
          <Groups onSignedOut={onSignedOut} />
        ) : (
          <Overview onSignedOut={onSignedOut} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
