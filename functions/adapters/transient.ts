// Which AWS errors are worth trying again in place: throttling, a service's 5xx, a timed-out or reset
// connection. The SDK retries these itself (standard mode, 3 attempts); a stream record that still
// meets one is retried a few more times by its handler before it is failed, since a failed record
// holds back its item's later records, and a batch that fails its retries is parked.

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'InternalServerError',
  'InternalErrorException',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'EAI_AGAIN']);

export function isTransient(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const error = e as {
    name?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  if (typeof error.name === 'string' && TRANSIENT_NAMES.has(error.name)) return true;
  if (typeof error.code === 'string' && TRANSIENT_CODES.has(error.code)) return true;
  return error.$fault === 'server' || (error.$metadata?.httpStatusCode ?? 0) >= 500;
}

/**
 * Runs `fn`, and again after a short jittered pause when it fails with a transient error, up to
 * `attempts` times in all. Only for work that is safe to repeat (the stream handlers' records are:
 * they are built for redelivery).
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; baseMs?: number; onRetry?: (e: unknown, attempt: number) => void } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e: unknown) {
      if (attempt >= attempts || !isTransient(e)) throw e;
      opts.onRetry?.(e, attempt);
      const ms = (opts.baseMs ?? 50) * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random() / 2)));
    }
  }
}
