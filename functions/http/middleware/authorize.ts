// After authentication: the route (404, 405), then whether the principal may call it (403).
import type { Principal } from '../principal.ts';
import { httpProblem } from '../problem.ts';
import { type ApiMiddleware, methodOf, required } from '../request.ts';
import { matchRoute, type RouteSpec } from '../routes.ts';

export function mayCall(principal: Principal, route: RouteSpec): boolean {
  // A session cookie reads; the one thing it may do beyond reading, sign out, needs its CSRF token.
  if (principal.kind === 'session')
    return (
      route.access === 'admin' && (route.method === 'GET' || (route.session === 'end' && principal.csrf))
    );
  return principal.kind === 'admin' || route.access === 'ingest';
}

export function authorize(opts: { pathArrivesDecoded: boolean }): ApiMiddleware {
  return {
    name: 'authorize',
    before: (request) => {
      const method = methodOf(request.event);
      const match = matchRoute(method, request.event.rawPath, opts.pathArrivesDecoded);
      if (match.kind === 'not-found') throw httpProblem(404, 'not_found', 'No such route');
      if (match.kind === 'method-not-allowed') {
        throw httpProblem(405, 'method_not_allowed', `Method ${method} not allowed here`, undefined, {
          Allow: match.allow.join(', '),
        });
      }
      if (!mayCall(required(request.internal, 'principal'), match.route)) {
        throw httpProblem(403, 'forbidden', 'This credential may not call this route');
      }
      request.internal.route = match.route;
      request.internal.params = match.params;
    },
  };
}
