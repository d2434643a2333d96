// The middy chain shared by the ingest and query functions. Checks run in the order of DESIGN §4:
// body size (413), signature (401), route (404, 405), content type (415), JSON (400), then the route's
// own validation (400). Route handlers receive typed requests and return plain results.
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { verify } from '#core/signing.ts';
import { httpProblem, INTERNAL_ERROR_BODY, problemFor } from './problem.ts';
import { matchRoute, type RouteName, type RouteSpec } from './routes.ts';
import { nestsDeeperThan } from './validation.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
/** No route takes bodies nested this deep; deeper ones would overflow recursive validators (a 500). */
export const MAX_JSON_DEPTH = 64;

export interface ApiRequest {
  readonly route: RouteSpec;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Parsed JSON body for POST / PUT; undefined otherwise. */
  readonly body: unknown;
}

export interface ApiResult {
  readonly status: number;
  readonly body: unknown;
}

export type RouteHandler = (req: ApiRequest) => Promise<ApiResult>;

export interface ApiDeps {
  readonly routes: Partial<Record<RouteName, RouteHandler>>;
  /** Active signing secrets (several during rotation), loaded and cached by the caller. */
  readonly secrets: () => Promise<readonly string[]>;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** True behind API Gateway HTTP API, which decodes `rawPath` before the function sees it. */
  readonly pathArrivesDecoded?: boolean;
}

interface Internal {
  rawBody: string;
  match?: { route: RouteSpec; params: Record<string, string> };
  body?: unknown;
}
type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

function header(event: Event, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * The signed target is the path and query exactly as sent. Behind API Gateway's HTTP API the function
 * receives a decoded `rawPath` (`pathArrivesDecoded`), so there the canonical RFC 3986 encoding of that
 * path is accepted too, which covers every client that encodes only what must be encoded
 * (docs/decisions.md §8). Where the path arrives as sent (the local runtime), only it is accepted.
 */
function signingTargets(event: Event, pathArrivesDecoded: boolean): string[] {
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const raw = event.rawPath;
  if (!pathArrivesDecoded) return [raw + query];
  const encoded = raw.split('/').map(encodeURIComponent).join('/');
  return encoded === raw ? [raw + query] : [raw + query, encoded + query];
}

function rawBodyOf(event: Event): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function createApiHandler(deps: ApiDeps) {
  const now = deps.nowMs ?? Date.now;
  const internal = new WeakMap<object, Internal>();
  const state = (event: Event): Internal => {
    const s = internal.get(event);
    if (s === undefined) throw new Error('request state missing');
    return s;
  };

  const guard: MiddlewareObj<Event, Result> = {
    before: async (request) => {
      const event = request.event;
      const method = event.requestContext.http.method.toUpperCase();
      const bodyless = method === 'GET' || method === 'DELETE' || method === 'HEAD';
      const raw = bodyless ? '' : rawBodyOf(event);
      if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) {
        throw httpProblem(413, 'payload_too_large', `Request body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      const secrets = await deps.secrets();
      const timestamp = header(event, 'x-keywatch-timestamp');
      const signature = header(event, 'x-keywatch-signature');
      const ok = signingTargets(event, deps.pathArrivesDecoded ?? false).some(
        (target) => verify({ timestamp, signature, method, target, body: raw }, secrets, now()).ok,
      );
      if (!ok) {
        // One message for every failure: the reason is logged, never told to the caller.
        const check = verify(
          { timestamp, signature, method, target: event.rawPath, body: raw },
          secrets,
          now(),
        );
        deps.logger.warn('request signature rejected', {
          reason: check.ok ? 'signature' : check.reason,
          method,
          path: event.rawPath,
        });
        throw httpProblem(401, 'unauthorized', 'Missing, expired or invalid request signature');
      }
      const match = matchRoute(method, event.rawPath, deps.pathArrivesDecoded ?? false);
      if (match.kind === 'not-found') throw httpProblem(404, 'not_found', 'No such route');
      if (match.kind === 'method-not-allowed') {
        throw httpProblem(405, 'method_not_allowed', `Method ${method} not allowed here`, undefined, {
          Allow: match.allow.join(', '),
        });
      }
      const s: Internal = { rawBody: raw, match: { route: match.route, params: match.params } };
      internal.set(event, s);
      if (!bodyless) {
        const contentType = header(event, 'content-type') ?? '';
        if (!/^application\/json\s*(;|$)/i.test(contentType.trim())) {
          throw httpProblem(415, 'unsupported_media_type', 'Content-Type must be application/json');
        }
        try {
          s.body = JSON.parse(raw);
        } catch {
          throw httpProblem(400, 'malformed_json', 'Request body is not valid JSON');
        }
        if (nestsDeeperThan(s.body, MAX_JSON_DEPTH)) {
          throw httpProblem(400, 'validation', 'Invalid request body', [
            { path: '(body)', message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
          ]);
        }
      }
    },
  };

  const domainErrors: MiddlewareObj<Event, Result> = {
    onError: async (request) => {
      const mapped = problemFor(request.error);
      if (mapped !== undefined) {
        request.error = mapped;
        return;
      }
      const err = request.error as { statusCode?: number } | null;
      if (!err || typeof err.statusCode !== 'number') {
        deps.logger.error('unhandled error', { error: request.error as Error });
      }
    },
  };

  const base = async (event: Event, _context: Context): Promise<Result> => {
    const s = state(event);
    const match = s.match;
    if (match === undefined) throw new Error('route missing');
    const routeHandler = deps.routes[match.route.name];
    if (routeHandler === undefined) throw httpProblem(404, 'not_found', 'No such route');
    const result = await routeHandler({
      route: match.route,
      params: match.params,
      query: (event.queryStringParameters ?? {}) as Record<string, string>,
      body: s.body,
    });
    return {
      statusCode: result.status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(result.body),
    };
  };

  return middy<Event, Result>()
    .use(httpErrorHandler({ logger: false, fallbackMessage: INTERNAL_ERROR_BODY }))
    .use(injectLambdaContext(deps.logger))
    .use(domainErrors)
    .use(guard)
    .handler(base);
}
