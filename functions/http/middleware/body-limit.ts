// 413 before anything else: the body is decoded once here and kept for the signature and JSON steps.
import { httpProblem } from '../problem.ts';
import { type ApiMiddleware, type Event, isBodyless, methodOf } from '../request.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

function rawBodyOf(event: Event): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

export function bodyLimit(maxBytes = MAX_BODY_BYTES): ApiMiddleware {
  return {
    name: 'bodyLimit',
    before: (request) => {
      const raw = isBodyless(methodOf(request.event)) ? '' : rawBodyOf(request.event);
      if (Buffer.byteLength(raw, 'utf8') > maxBytes) {
        throw httpProblem(413, 'payload_too_large', `Request body exceeds ${maxBytes} bytes`);
      }
      request.internal.rawBody = raw;
    },
  };
}
