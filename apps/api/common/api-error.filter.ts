import { STATUS_CODES, type ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ZodValidationException } from 'nestjs-zod';
import { JSON_BODY_LIMIT_BYTES } from './body-limit';

export interface ApiError {
  statusCode: number;
  error: string;
  message: string;
}

interface IssueLike {
  path?: ReadonlyArray<PropertyKey>;
  message?: string;
}

/** "field.sub: what is wrong" for each zod issue, so the caller knows exactly what to change. */
export function describeZodError(error: unknown): string {
  const issues = (error as { issues?: IssueLike[] } | undefined)?.issues ?? [];
  if (issues.length === 0) return 'The request is invalid.';
  const lines = issues.slice(0, 20).map((issue) => {
    const path = (issue.path ?? []).map(String).join('.');
    return path ? `${path}: ${issue.message}` : (issue.message ?? 'invalid');
  });
  return `Invalid request: ${lines.join('; ')}`;
}

/**
 * Every error leaves as `{ statusCode, error, message }`. Unexpected errors are logged with their stack
 * and answered with a generic 500, so no internal detail (SQL, paths, secrets) reaches the caller.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const body = this.toBody(exception);
    if (res.headersSent) {
      // A streamed download failed midway: the status line is gone, so cut the connection and let the
      // client see a truncated transfer instead of a corrupt file that looks complete.
      res.destroy();
      return;
    }
    res.statusCode = body.statusCode;
    const retryAfter = (exception as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  private toBody(exception: unknown): ApiError {
    if (exception instanceof ZodValidationException)
      return {
        statusCode: 400,
        error: STATUS_CODES[400]!,
        message: describeZodError(exception.getZodError()),
      };
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      let message = exception.message;
      if (typeof response === 'string') message = response;
      else if (response && typeof response === 'object' && 'message' in response) {
        const m = (response as { message: unknown }).message;
        message = Array.isArray(m) ? m.join('; ') : String(m);
      }
      // Nest turns body-parser's SyntaxError into a bare 400 carrying JSON.parse's message.
      if (statusCode === 400 && /JSON/.test(message) && !message.startsWith('Invalid request'))
        message = `The request body is not valid JSON (${message}): check quotes and commas, and send Content-Type: application/json.`;
      return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
    }
    // Body-parser style errors (malformed JSON, too large) carry their own status.
    const status = (exception as { status?: unknown; statusCode?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const type = (exception as { type?: string }).type;
      const message =
        type === 'entity.parse.failed'
          ? 'The request body is not valid JSON: check quotes and commas, and send Content-Type: application/json.'
          : type === 'entity.too.large'
            ? `The request body is too large: the limit is ${JSON_BODY_LIMIT_BYTES / 1024} kB, and a sync config or any other body fits in a few kB. Check that you are sending the JSON document itself.`
            : String((exception as Error).message);
      return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
    }
    // The database is overloaded or a pool is exhausted: nothing is wrong with the request.
    const code = (exception as { code?: unknown } | null)?.code;
    const message = exception instanceof Error ? exception.message : '';
    if (code === '57014' || code === '55P03' || /timeout exceeded when trying to connect/.test(message)) {
      this.logger.warn(`database busy: ${message}`);
      return {
        statusCode: 503,
        error: STATUS_CODES[503]!,
        message:
          'The database is busy and did not answer in time: nothing was changed, try again in a minute.',
      };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    return {
      statusCode: 500,
      error: STATUS_CODES[500]!,
      message:
        'Internal server error: the API logged the details; try again, and contact support if it persists.',
    };
  }
}
