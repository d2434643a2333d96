// Domain errors become their HTTP problem; anything that is not an HTTP error is logged here and left
// for http-error-handler's generic 500, so no library message or stack reaches the client.
import type { Logger } from '@aws-lambda-powertools/logger';
import { problemFor } from '../problem.ts';
import type { ApiMiddleware } from '../request.ts';

export function domainErrors(logger: Logger): ApiMiddleware {
  return {
    name: 'domainErrors',
    onError: (request) => {
      const mapped = problemFor(request.error);
      if (mapped !== undefined) {
        request.error = mapped;
        return;
      }
      const err = request.error as { statusCode?: number } | null;
      if (!err || typeof err.statusCode !== 'number') {
        logger.error('unhandled error', { error: request.error as Error });
      }
    },
  };
}
