// 415 and 400 for bodies: only POST and PUT carry one, and it must be JSON no deeper than any route
// accepts (deeper ones would overflow recursive validators downstream: a 500).
import { httpProblem } from '../problem.ts';
import { type ApiMiddleware, header, isBodyless, methodOf, required } from '../request.ts';
import { nestsDeeperThan } from '../validation.ts';

export const MAX_JSON_DEPTH = 64;

export function jsonBody(): ApiMiddleware {
  return {
    name: 'jsonBody',
    before: (request) => {
      if (isBodyless(methodOf(request.event))) return;
      const contentType = header(request.event, 'content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType.trim())) {
        throw httpProblem(415, 'unsupported_media_type', 'Content-Type must be application/json');
      }
      let body: unknown;
      try {
        body = JSON.parse(required(request.internal, 'rawBody'));
      } catch {
        throw httpProblem(400, 'malformed_json', 'Request body is not valid JSON');
      }
      if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
        throw httpProblem(400, 'validation', 'Invalid request body', [
          { path: '(body)', message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
        ]);
      }
      request.internal.body = body;
    },
  };
}
