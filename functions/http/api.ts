// The middy chain shared by the ingest and admin functions, in the order of the API contract:
// bodyLimit (413) → authenticate (401) → authorize: route (404, 405) and access (403) → jsonBody
// (415, 400) → the route, which validates its input (400) and returns a plain result.
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { IngestKeys } from '#core/ingest-key.ts';
import { authenticate, type SessionCheck } from './middleware/authenticate.ts';
import { authorize } from './middleware/authorize.ts';
import { bodyLimit } from './middleware/body-limit.ts';
import { domainErrors } from './middleware/domain-errors.ts';
import { handOver } from './middleware/hand-over.ts';
import { jsonBody } from './middleware/json-body.ts';
import type { Principal } from './principal.ts';
import { httpProblem, INTERNAL_ERROR_BODY } from './problem.ts';
import type { ApiContext, ApiInternal, Event, Result } from './request.ts';
import type { RouteName, RouteSpec } from './routes.ts';

export { MAX_BODY_BYTES } from './middleware/body-limit.ts';
export { MAX_JSON_DEPTH } from './middleware/json-body.ts';

export interface ApiRequest {
  readonly route: RouteSpec;
  readonly principal: Principal;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** Parsed JSON body for POST / PUT; undefined otherwise. */
  readonly body: unknown;
}

export interface ApiResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (req: ApiRequest) => Promise<ApiResult>;

export interface ApiDeps {
  readonly routes: Partial<Record<RouteName, RouteHandler>>;
  /** Active admin signing secrets (several during rotation), loaded and cached by the caller. */
  readonly secrets: () => Promise<readonly string[]>;
  readonly ingestKeys?: IngestKeys;
  readonly logger: Logger;
  readonly nowMs?: () => number;
  /** True behind API Gateway HTTP API, which decodes `rawPath` before the function sees it. */
  readonly pathArrivesDecoded?: boolean;
  /** Session cookies of the status page (admin only). */
  readonly sessions?: SessionCheck;
}

export function createApiHandler(deps: ApiDeps) {
  const pathArrivesDecoded = deps.pathArrivesDecoded ?? false;
  const nowMs = deps.nowMs ?? Date.now;

  const base = async (event: Event, context: ApiContext): Promise<Result> => {
    const established = context.keywatch;
    if (established === undefined) throw new Error('request not established by the middlewares');
    const routeHandler = deps.routes[established.route.name];
    // A route of the other function: API Gateway never sends it here, so it does not exist here.
    if (routeHandler === undefined) throw httpProblem(404, 'not_found', 'No such route');
    const result = await routeHandler({
      ...established,
      query: (event.queryStringParameters ?? {}) as Record<string, string>,
    });
    return {
      statusCode: result.status,
      headers: { 'content-type': 'application/json', ...result.headers },
      body: JSON.stringify(result.body),
    };
  };

  return middy<Event, Result, Error, ApiContext, ApiInternal>()
    .use(httpErrorHandler({ logger: false, fallbackMessage: INTERNAL_ERROR_BODY }))
    .use(injectLambdaContext(deps.logger, { logEvent: false }))
    .use(domainErrors(deps.logger))
    .use(bodyLimit())
    .use(
      authenticate({
        adminSecrets: deps.secrets,
        ...(deps.ingestKeys !== undefined ? { ingestKeys: deps.ingestKeys } : {}),
        logger: deps.logger,
        nowMs,
        pathArrivesDecoded,
        ...(deps.sessions !== undefined ? { sessions: deps.sessions } : {}),
      }),
    )
    .use(authorize({ pathArrivesDecoded }))
    .use(jsonBody())
    .use(handOver())
    .handler(base);
}
