// The local stand-in for API Gateway (HTTP API, payload 2.0): each request becomes the event the real
// function would receive, routed to the ingest or admin handler by the same route table the stack
// uses ($default → admin), and the handler's response is written back unchanged.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { type ApiFunction, matchRoute } from '#http/routes.ts';
import { lambdaContext } from './lambda-context.ts';

/** API Gateway HTTP APIs refuse payloads over 10 MB before any function runs. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > GATEWAY_MAX_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString))
    query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchRoute(method, rawPath);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: match.kind === 'found' ? `${method} ${match.route.path}` : '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(match.kind === 'found' && Object.keys(match.params).length > 0
      ? { pathParameters: match.params }
      : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
  };
}

export function functionFor(method: string, rawPath: string): ApiFunction {
  const match = matchRoute(method.toUpperCase(), rawPath);
  return match.kind === 'found' ? match.route.fn : 'admin';
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The headers CloudFront's response-headers policy sets on the deployed page (infra/status-page.ts). */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/**
 * The status page's files (web/dist) for GET and HEAD outside /v1, as S3 + CloudFront serve them
 * when deployed; true when it answered.
 */
async function serveStatic(dir: string, req: IncomingMessage, res: import('node:http').ServerResponse) {
  const method = req.method ?? 'GET';
  let path: string;
  try {
    path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
  } catch {
    return false; // a malformed escape: the API answers it (401 / 404), as for any unknown path
  }
  if ((method !== 'GET' && method !== 'HEAD') || path === '/v1' || path.startsWith('/v1/')) return false;
  const file = normalize(join(dir, path === '/' ? 'index.html' : path));
  if (!file.startsWith(dir)) return false;
  const body = await readFile(file).catch(() => undefined);
  if (body === undefined) return false;
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    // Hashed asset names change with their content; the page itself is always revalidated.
    'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...PAGE_HEADERS,
  });
  res.end(method === 'HEAD' ? undefined : body);
  return true;
}

export async function startHttpServer(opts: {
  port: number;
  host?: string;
  handlers: Record<ApiFunction, HttpHandler>;
  log?: (line: string) => void;
  /** Serve the status page's build from here (paths outside /v1). */
  staticDir?: string;
}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      if (opts.staticDir !== undefined && (await serveStatic(opts.staticDir, req, res))) return;
      const body = await readBody(req);
      if (body === 'too-large') {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'payload_too_large', message: 'Request body too large' } }));
        return;
      }
      const event = toEvent(req, body);
      const fn = functionFor(event.requestContext.http.method, event.rawPath);
      const result = await opts.handlers[fn](event, lambdaContext(`keywatch-${fn}`));
      const structured = typeof result === 'string' ? { statusCode: 200, body: result } : result;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(structured.headers ?? {})) headers[k] = String(v);
      res.writeHead(structured.statusCode ?? 200, headers);
      res.end(
        structured.isBase64Encoded ? Buffer.from(structured.body ?? '', 'base64') : (structured.body ?? ''),
      );
    } catch (e: unknown) {
      // API Gateway answers 500 when the integration fails; the details stay in the log.
      opts.log?.(`handler crashed: ${e instanceof Error ? e.stack : String(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal Server Error' }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
