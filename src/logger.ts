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

/** What a logger writes to, as far as ending it goes (pino's own destination, a transport). */
interface EndableStream {
  end(): void;
  once(event: 'close' | 'error', listener: () => void): unknown;
}

const isEndable = (stream: unknown): stream is EndableStream =>
  typeof stream === 'object' && stream !== null && typeof (stream as EndableStream).end === 'function' && typeof (stream as EndableStream).once === 'function';

/**
 * Exits once the lines logged so far are written. pino writes to stdout asynchronously; on
 * `process.exit` it writes what is still queued at once, ahead of a line whose write is under
 * way, so the last lines of a shutdown came out of order (and one still being written could be
 * cut off). Its `flush` does not wait for a write under way, so the destination is ended, which
 * does: it closes once everything is out. A destination that cannot be ended is flushed. A
 * stdout that never drains does not hold the exit past `timeoutMs`.
 */
export function exitAfterLogs(logger: Pick<Logger, 'flush'>, code: number, options: { exit?: (code: number) => void; timeoutMs?: number } = {}): void {
  const exit = options.exit ?? ((c: number) => process.exit(c));
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    exit(code);
  };
  const timer = setTimeout(finish, options.timeoutMs ?? 2000);
  try {
    const stream = (logger as Partial<Record<symbol, unknown>>)[pino.symbols.streamSym];
    if (isEndable(stream)) {
      stream.once('close', finish);
      stream.once('error', finish);
      stream.end();
    } else {
      logger.flush(finish);
    }
  } catch {
    finish();
  }
}

/** The logger yoga is given: the four methods it calls, each with what yoga passes. */
export interface YogaLogging {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/**
 * yoga logs at error level every error its mask rewrites, and ours rewrites every typed error
 * into the contract's words: a missing token or a bad cursor would read as a server fault,
 * with a stack. Errors `isExpected` recognises (the client's mistakes, Katapult's refusals and
 * outages, which the request's summary line and the metrics already count) go to debug.
 */
export function yogaLogging(logger: Logger, isExpected: (error: unknown) => boolean): YogaLogging {
  const write = (level: 'debug' | 'info' | 'warn' | 'error', args: unknown[]) => {
    const [first, ...rest] = args;
    if (first instanceof Error) logger[level]({ err: first }, typeof rest[0] === 'string' ? rest[0] : first.message);
    // yoga's other calls pass a message alone; anything more is left out rather than risk a value reaching the log.
    else if (typeof first === 'string') logger[level](first);
    else logger[level]({ detail: String(first) }, 'yoga');
  };
  return {
    debug: (...args) => write('debug', args),
    info: (...args) => write('info', args),
    warn: (...args) => write('warn', args),
    error: (...args) => write(args.length > 0 && isExpected(args[0]) ? 'debug' : 'error', args),
  };
}
