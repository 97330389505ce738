import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Human-readable lines (only for a terminal). @default false */
  pretty?: boolean;
  /** Where records go. @default stdout */
  destination?: DestinationStream;
}

/**
 * JSON logs by default. Redaction is by construction: nothing that logs is handed a token,
 * an Authorization header or an upstream URL with its query; `redact` is a second net for
 * the header names in case a request object is ever logged whole.
 */
export function createLogger(options: LoggerOptions): Logger {
  const redact = {
    paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', '*.token', '*.authorization'],
    censor: '[redacted]',
  };
  if (options.pretty && !options.destination) {
    return pino({
      level: options.level,
      redact,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level: options.level, redact, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, options.destination);
}
