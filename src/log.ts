// A small structured logger with pino's call shape, so fastify can use it as its loggerInstance.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const rank: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

type LogFn = (objOrMsg: unknown, msg?: string, ...rest: unknown[]) => void;

export interface Logger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  silent: LogFn;
  child(bindings: Record<string, unknown>, options?: { level?: LogLevel }): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /[\s="]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = options.bindings ?? {};

  const emit = (lvl: LogLevel): LogFn => (objOrMsg, msg) => {
    if (rank[lvl] < rank[level]) return;
    let fields: Record<string, unknown> = {};
    let text: string;
    if (typeof objOrMsg === 'string') {
      text = objOrMsg;
    } else if (objOrMsg instanceof Error) {
      fields = { err: objOrMsg.message, code: (objOrMsg as { code?: unknown }).code };
      text = msg ?? objOrMsg.message;
    } else {
      fields = { ...(objOrMsg as Record<string, unknown>) };
      if (fields.err instanceof Error) {
        const e = fields.err as Error & { code?: unknown };
        fields.err = e.message;
        if (e.code !== undefined && fields.code === undefined) fields.code = e.code;
      }
      // fastify passes req/res objects; keep what an operator needs.
      if (fields.req && typeof fields.req === 'object') {
        const r = fields.req as { method?: string; url?: string };
        fields.req = `${r.method} ${r.url}`;
      }
      if (fields.res && typeof fields.res === 'object') {
        fields.res = (fields.res as { statusCode?: number }).statusCode;
      }
      text = msg ?? '';
    }
    const all = { ...bindings, ...fields };
    for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
    if (format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: text, ...all }));
    } else {
      const kv = Object.entries(all).map(([k, v]) => `${k}=${formatValue(v)}`).join(' ');
      write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${text}${kv ? ' ' + kv : ''}`);
    }
  };

  return {
    level,
    trace: emit('trace'),
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    fatal: emit('fatal'),
    silent: () => {},
    child: (more, opts) => createLogger({ level: opts?.level && rank[opts.level] > rank[level] ? opts.level : level, format, write, bindings: { ...bindings, ...more } }),
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
