/**
 * The functions' logs on AWS: history through FilterLogEvents (both log groups, merged by time),
 * `--follow` through one StartLiveTail session over both groups — reconnecting when a session
 * ends (the 3-hour limit, a stream error) and back-filling the gap — and FilterLogEvents polling
 * where live tail is unavailable (AccessDenied, a region or endpoint without it).
 */
import type {
  CloudWatchLogsClient,
  FilteredLogEvent,
  StartLiveTailResponseStream,
} from '@aws-sdk/client-cloudwatch-logs';
import { setTimeout as delay } from 'node:timers/promises';
import { byTime, type LogEvent } from '../pipeline/log-format.js';
import { errorMessage as errMessage, errorName as errName, httpStatus } from './errors.js';

export type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

export interface LogGroupRef {
  /** `producer` or `aggregator`. */
  fn: string;
  logGroupName: string;
  /** Needed by StartLiveTail (it takes ARNs only). */
  arn?: string | undefined;
}

export const logGroupName = (functionName: string): string => `/aws/lambda/${functionName}`;

const partitionOf = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/** `arn:aws:logs:<region>:<account>:log-group:<name>` — without the `:*` live tail rejects. */
export const logGroupArn = (region: string, account: string, name: string): string =>
  `arn:${partitionOf(region)}:logs:${region}:${account}:log-group:${name}`;

/** Hard cap per log group for one history read, so a `--since 7d` on a busy group stays bounded. */
export const MAX_HISTORY_EVENTS = 20_000;

export interface HistoryResult {
  events: LogEvent[];
  /** Groups that were cut at MAX_HISTORY_EVENTS. */
  truncated: string[];
  /** Groups that do not exist (the function never ran). */
  missing: string[];
}

const toEvent = (fn: string, e: FilteredLogEvent): LogEvent => ({
  function: fn,
  timestamp: e.timestamp ?? 0,
  message: e.message ?? '',
  logStreamName: e.logStreamName,
  eventId: e.eventId,
  ingestionTime: e.ingestionTime,
});

/** Events of every group in [startTime, endTime], merged by time. */
export async function fetchHistory(
  logs: CloudWatchLogsClient,
  groups: readonly LogGroupRef[],
  startTime: number,
  o: {
    endTime?: number | undefined;
    filterPattern?: string | undefined;
    signal?: AbortSignal | undefined;
  } = {},
): Promise<HistoryResult> {
  const { paginateFilterLogEvents } = await import('@aws-sdk/client-cloudwatch-logs');
  const truncated: string[] = [];
  const missing: string[] = [];
  const perGroup = await Promise.all(
    groups.map(async (g) => {
      const out: LogEvent[] = [];
      try {
        const pages = paginateFilterLogEvents(
          { client: logs },
          { logGroupName: g.logGroupName, startTime, endTime: o.endTime, filterPattern: o.filterPattern },
          ...(o.signal === undefined ? [] : [{ abortSignal: o.signal }]),
        );
        for await (const page of pages) {
          for (const e of page.events ?? []) out.push(toEvent(g.fn, e));
          if (out.length >= MAX_HISTORY_EVENTS) {
            truncated.push(g.logGroupName);
            break;
          }
        }
      } catch (e) {
        if (errName(e) !== 'ResourceNotFoundException') throw e;
        missing.push(g.logGroupName);
      }
      return out;
    }),
  );
  return { events: perGroup.flat().sort(byTime), truncated, missing };
}

export interface FollowHandlers {
  events(events: LogEvent[]): void;
  /** Something the user should know (reconnects, sampling, fallback): stderr. */
  notice(message: string): void;
  debug?(message: string): void;
}

/** Errors that mean "live tail is not available here", not "try again". */
const UNSUPPORTED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidOperationException',
  'UnknownOperationException',
  'UnsupportedOperationException',
  'NotImplemented',
]);

export const isLiveTailUnsupported = (e: unknown): boolean => {
  const status = httpStatus(e);
  return UNSUPPORTED.has(errName(e)) || status === 403 || status === 404 || status === 501;
};

const eventKey = (e: LogEvent): string => `${e.timestamp}|${e.logStreamName ?? ''}|${e.message}`;

/** Remembers recently printed events so a back-fill after a reconnect prints each event once. */
class RecentEvents {
  private readonly keys = new Map<string, number>();
  latest: number | undefined;

  constructor(private readonly windowMs: number) {}

  add(events: LogEvent[]): LogEvent[] {
    const fresh: LogEvent[] = [];
    for (const e of events) {
      const k = e.eventId ?? eventKey(e);
      if (this.keys.has(k)) continue;
      this.keys.set(k, e.timestamp);
      fresh.push(e);
      if (this.latest === undefined || e.timestamp > this.latest) this.latest = e.timestamp;
    }
    if (this.latest !== undefined) {
      const floor = this.latest - this.windowMs;
      for (const [k, t] of this.keys) if (t < floor) this.keys.delete(k);
    }
    return fresh;
  }

  /** Live tail events carry no eventId: remember them by content as well. */
  addByContent(events: LogEvent[]): LogEvent[] {
    return this.add(events.map((e) => ({ ...e, eventId: undefined })));
  }
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller's loop sees signal.aborted.
  }
};

/** How far back each poll looks again, for events ingested late (CloudWatch ingestion is not instant). */
const LATE_MS = 30_000;

/**
 * FilterLogEvents polling from `startTime` until aborted: the first round prints the history, then
 * every `pollMs` the events since the newest seen (minus a late-arrival margin, de-duplicated).
 */
export async function pollFollow(
  logs: CloudWatchLogsClient,
  groups: readonly LogGroupRef[],
  startTime: number,
  o: { filterPattern?: string | undefined; pollMs?: number | undefined },
  signal: AbortSignal,
  h: FollowHandlers,
): Promise<void> {
  const recent = new RecentEvents(LATE_MS * 2);
  const pollMs = o.pollMs ?? 2000;
  let first = true;
  while (!signal.aborted) {
    const from = recent.latest === undefined ? startTime : Math.max(startTime, recent.latest - LATE_MS);
    try {
      const r = await fetchHistory(logs, groups, from, { filterPattern: o.filterPattern, signal });
      if (first)
        for (const m of r.missing) h.notice(`log group ${m} does not exist yet (the function has not run)`);
      first = false;
      const fresh = recent.add(r.events);
      if (fresh.length > 0) h.events(fresh);
    } catch (e) {
      if (signal.aborted) return;
      h.notice(`polling CloudWatch Logs failed (${errMessage(e)}); retrying`);
    }
    await sleep(pollMs, signal);
  }
}

export type LiveTailEnd = 'aborted' | { unsupported: string };

/**
 * One live tail session over all groups, renewed until aborted. Returns `{ unsupported }` when the
 * very first session cannot start for a reason a retry won't fix (the caller falls back to polling).
 */
export async function liveTail(
  logs: CloudWatchLogsClient,
  groups: readonly LogGroupRef[],
  o: {
    filterPattern?: string | undefined;
    /** Events printed already (the history); a gap after a reconnect is back-filled after them. */
    printed?: readonly LogEvent[] | undefined;
    reconnectDelayMs?: number | undefined;
    maxConsecutiveFailures?: number | undefined;
  },
  signal: AbortSignal,
  h: FollowHandlers,
): Promise<LiveTailEnd> {
  const { StartLiveTailCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const byIdentifier = new Map<string, string>();
  for (const g of groups) {
    byIdentifier.set(g.logGroupName, g.fn);
    if (g.arn !== undefined) byIdentifier.set(g.arn, g.fn);
  }
  const fnOf = (identifier: string | undefined): string => {
    if (identifier === undefined) return '?';
    const direct = byIdentifier.get(identifier) ?? byIdentifier.get(identifier.replace(/:\*$/, ''));
    if (direct !== undefined) return direct;
    const g = groups.find((x) => identifier.endsWith(x.logGroupName));
    return g?.fn ?? identifier;
  };
  const recent = new RecentEvents(LATE_MS * 2);
  recent.addByContent((o.printed ?? []).slice(-1000));
  let failures = 0;
  let sessions = 0;
  const maxFailures = o.maxConsecutiveFailures ?? 5;
  const baseDelay = o.reconnectDelayMs ?? 1000;

  const backfill = async (): Promise<void> => {
    // Events that arrived between two sessions: read them like history, print the ones not seen.
    const from = recent.latest;
    if (from === undefined) return;
    try {
      const r = await fetchHistory(logs, groups, from, { filterPattern: o.filterPattern, signal });
      const fresh = recent.addByContent(r.events);
      if (fresh.length > 0) h.events(fresh);
    } catch (e) {
      if (!signal.aborted) h.notice(`could not back-fill the reconnect gap (${errMessage(e)})`);
    }
  };

  while (!signal.aborted) {
    let stream: AsyncIterable<StartLiveTailResponseStream> | undefined;
    try {
      const res = await logs.send(
        new StartLiveTailCommand({
          logGroupIdentifiers: groups.map((g) => g.arn ?? g.logGroupName),
          logEventFilterPattern: o.filterPattern,
        }),
        { abortSignal: signal },
      );
      stream = res.responseStream;
    } catch (e) {
      if (signal.aborted) return 'aborted';
      if (sessions === 0 && isLiveTailUnsupported(e))
        return { unsupported: `${errName(e)}: ${errMessage(e)}` };
      failures++;
      if (failures > maxFailures) throw e;
      const wait = Math.min(30_000, baseDelay * 2 ** (failures - 1));
      h.notice(`live tail could not start (${errMessage(e)}); retrying in ${Math.round(wait / 1000)} s`);
      await sleep(wait, signal);
      continue;
    }
    sessions++;
    if (sessions > 1) await backfill();
    let sampled = false;
    let heard = false;
    let ended = 'the live tail session ended; reconnecting';
    try {
      for await (const item of stream ?? []) {
        if (signal.aborted) break;
        heard = true;
        if (item.sessionStart !== undefined) {
          failures = 0;
          h.debug?.(`live tail session ${item.sessionStart.sessionId ?? ''} started`);
        } else if (item.sessionUpdate !== undefined) {
          failures = 0;
          const isSampled = item.sessionUpdate.sessionMetadata?.sampled === true;
          if (isSampled && !sampled) {
            h.notice(
              'CloudWatch is sampling this live tail (too many events per second): not every event is shown; narrow it with --filter or a single function',
            );
          } else if (!isSampled && sampled) {
            h.notice('live tail is no longer sampled: every event is shown again');
          }
          sampled = isSampled;
          const events = (item.sessionUpdate.sessionResults ?? []).map(
            (r): LogEvent => ({
              function: fnOf(r.logGroupIdentifier),
              timestamp: r.timestamp ?? 0,
              message: r.message ?? '',
              logStreamName: r.logStreamName,
              ingestionTime: r.ingestionTime,
            }),
          );
          const fresh = recent.addByContent(events.sort(byTime));
          if (fresh.length > 0) h.events(fresh);
        } else if (item.SessionTimeoutException !== undefined) {
          ended = 'the live tail session reached its 3-hour limit; reconnecting';
          break;
        } else if (item.SessionStreamingException !== undefined) {
          ended = `the live tail stream failed (${item.SessionStreamingException.message ?? 'unknown error'}); reconnecting`;
          break;
        }
      }
    } catch (e) {
      if (signal.aborted) return 'aborted';
      // The SDK may surface the stream's modelled exceptions as thrown errors instead of members.
      ended =
        errName(e) === 'SessionTimeoutException'
          ? 'the live tail session reached its 3-hour limit; reconnecting'
          : `the live tail stream was interrupted (${errMessage(e)}); reconnecting`;
      failures++;
      if (failures > maxFailures) throw e;
    }
    if (signal.aborted) return 'aborted';
    // A session that ends without a word is a failure too: back off instead of spinning.
    if (!heard) failures++;
    if (failures > maxFailures) throw new Error(`live tail sessions keep ending at once (${ended})`);
    h.notice(ended);
    if (failures > 0) await sleep(Math.min(30_000, baseDelay * 2 ** (failures - 1)), signal);
  }
  return 'aborted';
}
