/**
 * `paypipe logs`: the producer's and the aggregator's logs as one readable stream, from CloudWatch
 * Logs (AWS) or the local pipeline's log files (`--local`), with `--follow`. Every event passes the
 * same parse → filter → render path; `--json` prints the raw events as NDJSON.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ClientTarget } from '../../aws/clients.js';
import {
  byTime,
  compileFilterPattern,
  type EventFilter,
  keepEvent,
  type LogEvent,
  type LogLevel,
  LogFilterError,
  parseLogMessage,
  renderEvent,
} from '../../pipeline/log-format.js';
import { PaypipeError, isPaypipeError, usageError } from '../../errors.js';
import type { Io } from '../io.js';
import {
  fetchHistory,
  type FollowHandlers,
  type LogGroupRef,
  liveTail,
  logGroupArn,
  logGroupName,
  pollFollow,
} from '../../aws/logs.js';
import { localLogTails } from '../../local/log-files.js';

export type LogsWhich = 'producer' | 'aggregator' | 'all';

export interface LogsOptions {
  which: LogsWhich;
  /** Epoch ms. */
  sinceMs: number;
  filter?: string | undefined;
  level?: LogLevel | undefined;
  follow: boolean;
  /** Hide Lambda's START/END/REPORT lines. */
  hidePlatform: boolean;
  /** Local tail / AWS polling interval (tests use short ones). */
  pollMs?: number | undefined;
  /** Show dates (ranges longer than a day). */
  date?: boolean | undefined;
}

export type LogsSource =
  | { kind: 'local'; dataDir: string }
  | {
      kind: 'aws';
      clientTarget: Extract<ClientTarget, { kind: 'aws' }>;
      functions: { producer: string; aggregator: string };
    };

export interface LogsSummary {
  /** Events printed. */
  printed: number;
  /** How --follow ran on AWS: live tail, or polling after a fallback. */
  mode: 'history' | 'tail' | 'live-tail' | 'polling';
}

const roles = (which: LogsWhich): Array<'producer' | 'aggregator'> =>
  which === 'all' ? ['producer', 'aggregator'] : [which];

/** Parse, filter, render, print: one place for both sources. */
export class LogPrinter {
  printed = 0;
  constructor(
    private readonly io: Io,
    private readonly filter: EventFilter,
    private readonly date: boolean,
  ) {}

  print(events: readonly LogEvent[]): void {
    for (const e of events) {
      const parsed = parseLogMessage(e.message);
      if (!keepEvent(e.message, parsed, this.filter)) continue;
      if (this.io.json) {
        this.io.line(rawEvent(e), '');
        this.printed++;
        continue;
      }
      const line = renderEvent(e, parsed, this.io.style, { date: this.date });
      if (line === undefined) continue;
      this.io.line(e, line);
      this.printed++;
    }
  }
}

/** What `--json` prints per event: the CloudWatch event as is, plus which function wrote it. */
function rawEvent(e: LogEvent): Record<string, unknown> {
  const o: Record<string, unknown> = { function: e.function, timestamp: e.timestamp, message: e.message };
  if (e.logStreamName !== undefined) o.logStreamName = e.logStreamName;
  if (e.eventId !== undefined) o.eventId = e.eventId;
  if (e.ingestionTime !== undefined) o.ingestionTime = e.ingestionTime;
  return o;
}

export function compileFilter(pattern: string | undefined): ((m: string) => boolean) | undefined {
  if (pattern === undefined) return undefined;
  try {
    return compileFilterPattern(pattern);
  } catch (e) {
    if (e instanceof LogFilterError) {
      throw usageError(`--filter: ${e.message}`, 'see `paypipe logs --help` for the supported patterns');
    }
    throw e;
  }
}

export async function runLogs(
  source: LogsSource,
  o: LogsOptions,
  io: Io,
  signal: AbortSignal,
): Promise<LogsSummary> {
  return source.kind === 'local' ? runLocal(source.dataDir, o, io, signal) : runAws(source, o, io, signal);
}

async function runLocal(dataDir: string, o: LogsOptions, io: Io, signal: AbortSignal): Promise<LogsSummary> {
  const dir = resolve(dataDir);
  const logsDir = join(dir, 'logs');
  if (!existsSync(logsDir)) {
    throw new PaypipeError('LOCAL_NOT_RUNNING', `no local pipeline logs in ${logsDir}`, {
      hint: 'start the local pipeline with `paypipe up`, or pass the --data-dir it uses',
    });
  }
  const printer = new LogPrinter(
    io,
    { minLevel: o.level, hidePlatform: o.hidePlatform, pattern: compileFilter(o.filter) },
    o.date === true,
  );
  const tails = localLogTails(logsDir, roles(o.which));
  const readAll = async (): Promise<LogEvent[]> =>
    (await Promise.all(tails.map((t) => t.readNew()))).flat().sort(byTime);

  printer.print((await readAll()).filter((e) => e.timestamp >= o.sinceMs));
  if (!o.follow) return { printed: printer.printed, mode: 'history' };
  io.info(`following ${roles(o.which).join(' and ')} logs in ${logsDir} (Ctrl-C to stop)`);
  while (!signal.aborted) {
    try {
      await delay(o.pollMs ?? 250, undefined, { signal });
    } catch {
      break;
    }
    printer.print(await readAll());
  }
  return { printed: printer.printed, mode: 'tail' };
}

const wrapAws = (e: unknown, what: string): PaypipeError => {
  if (isPaypipeError(e)) return e;
  const name = (e as { name?: string }).name ?? 'Error';
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  return new PaypipeError('AWS', `${what} failed: ${name}: ${msg}`, {
    hint:
      name.includes('AccessDenied') || name === 'UnrecognizedClientException'
        ? 'your credentials need logs:FilterLogEvents (and logs:StartLiveTail for --follow) on /aws/lambda/*'
        : 'run again with --debug for details',
    cause: e,
  });
};

async function runAws(
  source: Extract<LogsSource, { kind: 'aws' }>,
  o: LogsOptions,
  io: Io,
  signal: AbortSignal,
): Promise<LogsSummary> {
  const { awsOnlyClients } = await import('../../aws/clients.js');
  const clients = await awsOnlyClients(source.clientTarget);
  const logs = await clients.logs();
  const groups: LogGroupRef[] = roles(o.which).map((fn) => ({
    fn,
    logGroupName: logGroupName(source.functions[fn]),
  }));
  // On AWS the pattern is CloudWatch's own: passed through, never re-interpreted here.
  const printer = new LogPrinter(io, { minLevel: o.level, hidePlatform: o.hidePlatform }, o.date === true);
  const handlers: FollowHandlers = {
    events: (evs) => printer.print(evs),
    notice: (m) => io.warn(m),
    debug: (m) => io.debugLog(m),
  };

  let history: Awaited<ReturnType<typeof fetchHistory>>;
  try {
    history = await fetchHistory(logs, groups, o.sinceMs, { filterPattern: o.filter, signal });
  } catch (e) {
    if (signal.aborted) return { printed: printer.printed, mode: 'history' };
    throw wrapAws(e, 'reading CloudWatch Logs');
  }
  for (const g of history.missing) io.warn(`log group ${g} does not exist yet (the function has not run)`);
  for (const g of history.truncated) {
    io.warn(`${g}: only the first ${history.events.length} events since --since are shown; narrow --since`);
  }
  printer.print(history.events);
  if (!o.follow) return { printed: printer.printed, mode: 'history' };

  try {
    const { callerIdentity } = await import('../../aws/sts.js');
    const { account } = await callerIdentity(await clients.sts());
    if (account !== undefined) {
      for (const g of groups) g.arn = logGroupArn(source.clientTarget.region, account, g.logGroupName);
    }
    io.info(`live tail of ${groups.map((g) => g.logGroupName).join(' and ')} (Ctrl-C to stop)`);
    const end = await liveTail(
      logs,
      groups,
      { filterPattern: o.filter, printed: history.events },
      signal,
      handlers,
    );
    if (end === 'aborted') return { printed: printer.printed, mode: 'live-tail' };
    io.warn(`live tail is not available (${end.unsupported}); polling every 2 s instead`);
    const last = history.events.at(-1)?.timestamp ?? o.sinceMs;
    const shown = new Set(history.events.filter((e) => e.timestamp >= last).map((e) => e.eventId));
    await pollFollow(logs, groups, last, { filterPattern: o.filter, pollMs: o.pollMs }, signal, {
      ...handlers,
      // The first poll overlaps the history's last millisecond: print only what is new.
      events: (evs) => printer.print(evs.filter((e) => e.eventId === undefined || !shown.has(e.eventId))),
    });
    return { printed: printer.printed, mode: 'polling' };
  } catch (e) {
    if (signal.aborted) return { printed: printer.printed, mode: 'live-tail' };
    throw wrapAws(e, 'following CloudWatch Logs');
  }
}
