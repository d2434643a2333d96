// The HTTP API of DESIGN §4 as a client sees it: the real ingest and admin handlers behind the local
// HTTP adapter, on a fresh table. Counts the DynamoDB commands the handlers send and records handler
// crashes, so tests can assert the request budget and that bad input never reaches a 5xx.
import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import { Logger } from '@aws-lambda-powertools/logger';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createDynamoClient, documentClient } from '#adapters/clients.ts';
import { cachedCatalogue, createFieldStore, storedCatalogue } from '#adapters/field-store.ts';
import { createFleetPager } from '#adapters/fleet-pager.ts';
import { createGroupStore } from '#adapters/group-store.ts';
import { cachedIngestKeys, createIngestKeyStore } from '#adapters/ingest-key-store.ts';
import { localSealer } from '#adapters/key-sealer.ts';
import { createQueryStore } from '#adapters/query-store.ts';
import { createRepository } from '#adapters/repository.ts';
import { staticSecrets } from '#adapters/secrets.ts';
import { createStatusReads } from '#adapters/status-reads.ts';
import { seedShippedGroups } from '#core/group-pack.ts';
import { SHIPPED_FIELDS } from '#core/shipped-catalogue.ts';
import { sign } from '#core/signing.ts';
import { createAdminHandler } from '#functions/admin/routes.ts';
import { createIngestHandler } from '#functions/ingest/routes.ts';
import { createClient } from '#local/client.ts';
import { type HttpHandler, startHttpServer } from '#local/http-server.ts';
import { freshTable } from './dynamo.ts';

/** Two active secrets, as during a rotation. */
export const SECRETS = ['current-secret', 'next-secret'] as const;

export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as sent. */
  readonly target: string;
  /** Raw body; sent when defined. */
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Sign with this secret (default the first); `null` sends no signature headers. */
  readonly secret?: string | null;
  /** Overrides of what is signed, to sign something other than what is sent. */
  readonly signed?: { method?: string; target?: string; body?: string; timestamp?: string };
}

export interface ApiOptions {
  /** How long the ingest function trusts a looked-up key (default 10 s, as deployed). */
  readonly keyCacheMs?: number;
  /** Log level of both functions' logger (default SILENT). */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'SILENT';
}

export async function startApi(opts: ApiOptions = {}) {
  const table = await freshTable();
  const commands: string[] = [];
  /** Commands DynamoDB refused (a failed condition writes nothing), by name, in order. */
  const refused: string[] = [];
  table.client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      try {
        return await next(args);
      } catch (e: unknown) {
        refused.push(String(context.commandName));
        throw e;
      }
    },
    { step: 'initialize', name: 'countCommands' },
  );
  const doc = documentClient(table.client);
  const logger = new Logger({ serviceName: 'keywatch-test', logLevel: opts.logLevel ?? 'SILENT' });
  const secrets = staticSecrets(SECRETS.join(','));
  const repo = createRepository(doc, table.tableName);
  const groups = createGroupStore(doc, table.tableName);
  const keys = createIngestKeyStore(doc, table.tableName, localSealer(randomBytes(32)));
  // One cache per function, as deployed: each Lambda function's instances keep their own.
  const keyCache = () => cachedIngestKeys(keys, { ttlMs: opts.keyCacheMs ?? 10_000, nowMs: Date.now });
  const ingestKeys = keyCache();
  // The table as deployed holds the shipped catalogue. The functions read it through a client of
  // their own, not counted: a test sees a field change at once (no cache period), and the request
  // budgets asserted here are those of the status route itself (the catalogue's own cost, one Query
  // per cache period per instance, is tested in fields.test.ts and measured by the ingest-cost bench).
  const catalogueReader = createDynamoClient(table.endpoint);
  const fieldStore = createFieldStore(documentClient(catalogueReader), table.tableName);
  for (const f of SHIPPED_FIELDS) await fieldStore.putIfAbsent(f, new Date().toISOString());
  const ingest = createIngestHandler({
    repo,
    catalogue: cachedCatalogue(fieldStore, { ttlMs: 0, nowMs: Date.now }),
    secrets,
    ingestKeys,
    logger,
  });
  const admin = createAdminHandler({
    repo,
    groups,
    catalogue: storedCatalogue(fieldStore),
    fleet: createFleetPager(doc, table.tableName),
    reads: createQueryStore(doc, table.tableName),
    tally: createStatusReads(doc, table.tableName),
    keys,
    ingestKeys: keyCache(),
    nowMs: Date.now,
    secrets,
    logger,
  });
  const crashes: string[] = [];
  const handlers = { ingest: ingest as unknown as HttpHandler, admin: admin as unknown as HttpHandler };
  const http = await startHttpServer({
    port: 0,
    handlers,
    log: (line) => crashes.push(line),
  });
  const client = createClient({ url: http.url, secret: SECRETS[0] });
  // A second client on its own connection to the table, so scans and seeding are not counted.
  const scanner = createDynamoClient(table.endpoint);

  return {
    url: http.url,
    tableName: table.tableName,
    /** A document client of its own, for seeding what other functions would write; not counted. */
    seeder: documentClient(scanner),
    client,
    /** The two API functions' handlers, for driving them with events directly (fuzzing). */
    handlers,
    /** A client with another credential: an ingest key signs, or is sent as a bearer token. */
    clientWith: (secret: string, bearer = false) => createClient({ url: http.url, secret, bearer }),
    commands,
    refused,
    crashes,
    /** Sends a request with full control over what is sent and what is signed. */
    async raw(r: RawRequest) {
      const timestamp = r.signed?.timestamp ?? String(Math.floor(Date.now() / 1000));
      const signature =
        r.secret === null
          ? undefined
          : sign(
              r.secret ?? SECRETS[0],
              timestamp,
              r.signed?.method ?? r.method,
              r.signed?.target ?? r.target,
              r.signed?.body ?? r.body ?? '',
            );
      const res = await send(
        http.url,
        r.method,
        r.target,
        {
          ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}),
          ...(signature !== undefined
            ? { 'x-keywatch-timestamp': timestamp, 'x-keywatch-signature': signature }
            : {}),
          ...r.headers,
        },
        r.body,
      );
      const text = res.text;
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body, text };
    },
    /** Every item in the table, sorted by key, for before / after comparisons. */
    async scan(): Promise<Record<string, unknown>[]> {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await scanner.send(
          new ScanCommand({ TableName: table.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
        );
        for (const item of page.Items ?? []) items.push(unmarshall(item));
        start = page.LastEvaluatedKey;
      } while (start);
      return items.sort((a, b) => `${a.PK}|${a.SK}`.localeCompare(`${b.PK}|${b.SK}`));
    },
    async seedShippedGroups() {
      await seedShippedGroups(groups, new Date().toISOString());
    },
    async close() {
      await http.close();
      scanner.destroy();
      catalogueReader.destroy();
      table.client.destroy();
    },
  };
}

export type Api = Awaited<ReturnType<typeof startApi>>;

/**
 * The API for one test file: started (and `seed`ed) before its tests, closed after them, with the
 * crash log cleared before each test. The returned object forwards to the running API.
 */
export function useApi(seed?: (api: Api) => Promise<void>, opts: ApiOptions = {}): Api {
  let current: Api | undefined;
  beforeAll(async () => {
    current = await startApi(opts);
    await seed?.(current);
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => {
    if (current) current.crashes.length = 0;
  });
  return new Proxy({} as Api, {
    get: (_target, property) => {
      if (current === undefined) throw new Error('the API is used before it started (use it inside tests)');
      return Reflect.get(current, property);
    },
  });
}

let counter = 0;
/** A status update with unique ids unless given. */
export function update(over: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    endpointId: `EP-${process.pid}-${counter}`,
    companyId: 'acme',
    siteId: 'hq',
    observedAt: new Date(Date.now() - 60_000).toISOString(),
    ...over,
  };
}

/** An ISO instant `offsetMs` from a fixed base in the recent past. */
export function at(offsetMs: number): string {
  return new Date(BASE_MS + offsetMs).toISOString();
}
const BASE_MS = Date.now() - 3_600_000;

/** Asserts the DESIGN §4 error shape and returns the error object. */
export function errorOf(body: unknown): {
  code: string;
  message: string;
  details?: { path: string; message: string }[];
} {
  const e = (body as { error?: unknown } | null)?.error as
    | { code: string; message: string; details?: { path: string; message: string }[] }
    | undefined;
  if (e === undefined || typeof e.code !== 'string' || typeof e.message !== 'string') {
    throw new Error(`not an error body: ${JSON.stringify(body)}`);
  }
  if (e.details !== undefined) {
    for (const d of e.details) {
      if (typeof d.path !== 'string' || typeof d.message !== 'string') {
        throw new Error(`bad detail: ${JSON.stringify(d)}`);
      }
    }
  }
  return e;
}

/**
 * One request through node:http, which sends the target byte for byte (fetch would normalise it and
 * refuses a body on GET, both of which the contract has something to say about).
 */
function send(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
