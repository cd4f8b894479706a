import { type Logger, ServiceUnavailableException } from '@nestjs/common';

/**
 * Temporal did not answer a request the API sent it: the cause goes to the log (never to the
 * caller), the caller gets a 503 with `advice` (what happened to their request and what to do).
 */
export function schedulerUnavailable(
  logger: Logger,
  level: 'error' | 'warn',
  what: string,
  err: unknown,
  advice: string,
): ServiceUnavailableException {
  logger[level](`${what}: ${(err as Error).message}`);
  return new ServiceUnavailableException(advice);
}
