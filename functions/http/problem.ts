// HTTP problems: the error body of DESIGN §4, `{ error: { code, message, details? } }`, raised as
// middy HttpErrors whose message is that JSON, so @middy/http-error-handler answers it as JSON.
import { createError } from '@middy/util';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  type ProblemDetail,
  ValidationError,
} from '#core/errors.ts';

export function httpProblem(
  status: number,
  code: string,
  message: string,
  details?: readonly ProblemDetail[],
  headers?: Record<string, string>,
) {
  const body = { error: { code, message, ...(details && details.length > 0 ? { details } : {}) } };
  // createError reads only `expose` from its options; http-error-handler copies `headers` from the
  // error itself, so they are set there (405 needs its Allow header).
  const error = createError(status, JSON.stringify(body), { expose: true });
  return headers ? Object.assign(error, { headers }) : error;
}

/** Maps a domain error to its HTTP problem; anything else is left for the 500 fallback. */
export function problemFor(error: unknown) {
  if (error instanceof ValidationError) return httpProblem(400, 'validation', error.message, error.details);
  if (error instanceof ForbiddenError) return httpProblem(403, 'forbidden', error.message, error.details);
  if (error instanceof NotFoundError) return httpProblem(404, 'not_found', error.message);
  if (error instanceof ConflictError) return httpProblem(409, 'conflict', error.message, error.details);
  return undefined;
}

export const INTERNAL_ERROR_BODY = JSON.stringify({
  error: { code: 'internal', message: 'Internal error; the request may be retried' },
});
