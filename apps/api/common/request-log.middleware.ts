import type { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';

const logger = new Logger('HTTP');

/**
 * One log line per request: method, path (no query string, no headers: the bearer token and any body
 * stay out of logs), status and duration.
 */
export function requestLog(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const path = (req.url ?? '').split('?')[0];
    logger.log(`${req.method} ${path} ${res.statusCode} ${ms.toFixed(1)}ms`);
  });
  next();
}
