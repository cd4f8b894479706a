import type { LoggerService } from '@nestjs/common';
import pino, { type Logger, type LevelWithSilent } from 'pino';

const BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

/** Nest's logger interface backed by pino: one JSON line per event, at the level LOG_LEVEL sets. */
export class PinoLoggerService implements LoggerService {
  readonly pino: Logger;

  constructor(level: LevelWithSilent) {
    this.pino = pino({ level, base: { app: 'api' } });
  }

  log(message: unknown, context?: string): void {
    // Nest's boot chatter (one line per module and route) is only interesting when debugging.
    if (context && BOOT_CONTEXTS.has(context)) this.pino.debug({ context }, String(message));
    else this.pino.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, String(message));
  }
  fatal(message: unknown, context?: string): void {
    this.pino.fatal({ context }, String(message));
  }
}
