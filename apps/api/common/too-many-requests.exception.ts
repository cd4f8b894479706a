import { HttpException, HttpStatus } from '@nestjs/common';

/** A 429 that says when to try again: ApiErrorFilter sends `retryAfterSeconds` as Retry-After. */
export class TooManyRequestsException extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, HttpStatus.TOO_MANY_REQUESTS);
  }
}

/** "in 42 seconds", "in 3 minutes": when a caller may try again, for messages. */
export function inWords(seconds: number): string {
  if (seconds < 120) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  return `in ${Math.ceil(seconds / 60)} minutes`;
}
