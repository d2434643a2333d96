// The API Gateway (HTTP API, payload 2.0) event as the middlewares read it, and what they leave for
// the next one in middy's `request.internal`.
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Principal } from './principal.ts';
import type { RouteSpec } from './routes.ts';

export type Event = APIGatewayProxyEventV2;
export type Result = APIGatewayProxyStructuredResultV2;

/** Set by the middlewares in chain order: bodyLimit, authenticate, authorize, jsonBody. */
export type ApiInternal = {
  rawBody?: string;
  principal?: Principal;
  route?: RouteSpec;
  params?: Record<string, string>;
  body?: unknown;
};

/** The Lambda context, carrying what the middlewares established to the route handler. */
export type ApiContext = Context & {
  keywatch?: Required<Pick<ApiInternal, 'principal' | 'route' | 'params'>> & { body: unknown };
};

export type ApiMiddleware = MiddlewareObj<Event, Result, Error, ApiContext, ApiInternal>;

export function header(event: Event, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

export function methodOf(event: Event): string {
  return event.requestContext.http.method.toUpperCase();
}

/** GET, HEAD and DELETE carry no body: one sent anyway is ignored and signed as empty. */
export function isBodyless(method: string): boolean {
  return method === 'GET' || method === 'DELETE' || method === 'HEAD';
}

/** Reads what an earlier middleware must have set; a missing value is a wiring bug (500). */
export function required<K extends keyof ApiInternal>(
  internal: ApiInternal,
  key: K,
): NonNullable<ApiInternal[K]> {
  const value = internal[key];
  if (value === undefined || value === null) throw new Error(`request.internal.${key} missing`);
  return value as NonNullable<ApiInternal[K]>;
}
