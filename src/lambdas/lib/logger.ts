/**
 * Structured JSON logger with Powertools-like fields, one JSON line per call. Lambda ships
 * stdout lines to CloudWatch Logs as-is, so `paypipe logs` and Logs Insights can filter on fields;
 * the local pipeline passes a sink that keeps lines per function.
 */
import type { Context } from 'aws-lambda';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

const RANK: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds function_name/function_request_id (and cold_start) from a Lambda context. */
  withContext(context: Partial<Context> | undefined): Logger;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  functionName?: string;
  level?: LogLevel;
  sink?: (line: string) => void;
  now?: () => number;
}

const defaultSink = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Errors don't JSON.stringify (own props only): keep name, message, stack and an AWS code. */
function plain(v: unknown): unknown {
  if (v instanceof Error) {
    const o: Record<string, unknown> = { name: v.name, message: v.message };
    const code = (v as { code?: unknown }).code;
    if (code !== undefined) o.code = code;
    if (v.stack !== undefined) o.stack = v.stack;
    return o;
  }
  return v;
}

export function createLogger(opts: LoggerOptions): Logger {
  const sink = opts.sink ?? defaultSink;
  const now = opts.now ?? Date.now;
  const min = RANK[opts.level ?? 'INFO'];
  const make = (base: LogFields): Logger => {
    const log = (level: LogLevel, message: string, fields?: LogFields): void => {
      if (RANK[level] < min) return;
      const line: LogFields = {
        level,
        message,
        timestamp: new Date(now()).toISOString(),
        service: opts.service,
        ...base,
      };
      if (fields !== undefined) for (const [k, v] of Object.entries(fields)) line[k] = plain(v);
      let text: string;
      try {
        text = JSON.stringify(line);
      } catch {
        // A cyclic or BigInt field must not take the function down with it.
        text = JSON.stringify({
          level,
          message,
          timestamp: line.timestamp,
          service: opts.service,
          ...base,
          fields_error: 'unserializable fields',
        });
      }
      sink(text);
    };
    return {
      debug: (m, f) => log('DEBUG', m, f),
      info: (m, f) => log('INFO', m, f),
      warn: (m, f) => log('WARN', m, f),
      error: (m, f) => log('ERROR', m, f),
      withContext: (context) => {
        const extra: LogFields = {};
        const fn = context?.functionName ?? opts.functionName;
        if (fn !== undefined) extra.function_name = fn;
        if (context?.awsRequestId !== undefined) extra.function_request_id = context.awsRequestId;
        return make({ ...base, ...extra });
      },
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(opts.functionName === undefined ? {} : { function_name: opts.functionName });
}
