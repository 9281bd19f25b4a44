// Logging is pino: JSON lines for log shippers, one readable line per record on a terminal,
// and no secret in either. fastify gets the same logger as its loggerInstance, so its records
// pass through the same redaction.
import { pino, stdSerializers, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { isLinesightError } from './errors.js';
import { CENSOR, redactJsonLine, redactPaths } from './redact.js';

export type LogLevel = LevelWithSilent;
export type LogFormat = 'auto' | 'json' | 'pretty';
export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: LogLevel;
  /** auto: pretty when the output is a terminal, else JSON lines. */
  format?: LogFormat;
  /** Receives each record as one line without its newline (tests); default: stderr. */
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

/** `auto` means pretty for a person at a terminal and JSON lines for everything else (journald, files, pipes). */
export function chooseFormat(format: LogFormat, isTTY: boolean): 'json' | 'pretty' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

/**
 * Errors keep message, code and cause. A LinesightError is an expected condition that already
 * says what went wrong, and a system call's error (ECONNREFUSED, ENOENT) has a stack inside
 * node's internals that a reconnect loop would repeat every second: only other errors, the
 * unexpected ones, carry their stack.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  if (isLinesightError(err)) {
    // Already in the message, or the same as `type`.
    delete out.detail;
    delete out.name;
  }
  if (isLinesightError(err) || typeof (err as { syscall?: unknown }).syscall === 'string') delete out.stack;
  return out;
}

function destination(format: 'json' | 'pretty', write: ((line: string) => void) | undefined, colorize: boolean): DestinationStream {
  // Synchronous writes: a record logged just before the process exits is not lost.
  const out = write ?? ((line: string) => process.stderr.write(line + '\n'));
  if (format === 'json') return { write: (chunk) => out(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) };
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    // Print err like any other field, on the same line, rather than as an indented stack block.
    errorLikeObjectKeys: [],
  });
  return { write: (chunk) => out(pretty(chunk).replace(/\n$/, '')) };
}

/** pino calls onChild on the parent: a child may be quieter than its parent, never louder. */
function keepQuieter(this: Logger, child: Logger): void {
  if (child.levelVal < this.levelVal) child.level = this.level;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const tty = options.write === undefined && process.stderr.isTTY === true;
  const format = chooseFormat(options.format ?? 'auto', tty);
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: a person reading the JSON, and any shipper, understands "warn".
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: redactPaths, censor: CENSOR },
      // The last pass over every serialized line (fastify's included): credentials in URLs and
      // query strings anywhere in a message or field, and secret fields nested deeper than the paths.
      hooks: { streamWrite: redactJsonLine },
      // `child(b, { level: 'warn' })` under an `error` logger stays at error, as the config's level promises.
      onChild: keepQuieter as (child: Logger) => void,
    },
    destination(format, options.write, tty),
  );
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
