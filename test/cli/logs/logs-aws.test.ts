/**
 * `paypipe logs` on AWS with the CloudWatch Logs and STS clients faked (no local server exists for
 * them): history via FilterLogEvents, live tail's event stream, reconnects, sampling notices and
 * the polling fallback.
 */
import {
  AccessDeniedException,
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandInput,
  StartLiveTailCommand,
  type StartLiveTailCommandInput,
  type StartLiveTailResponseStream,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LogsOptions, type LogsSource, runLogs } from '../../../src/cli/logs/logs.js';
import { captureIo, waitFor } from '../../helpers/ops.js';

const logsMock = mockClient(CloudWatchLogsClient);
const stsMock = mockClient(STSClient);

const source: LogsSource = {
  kind: 'aws',
  clientTarget: { kind: 'aws', region: 'ap-southeast-2' },
  functions: { producer: 'paypipe-dev-producer', aggregator: 'paypipe-dev-aggregator' },
};
const T0 = Date.UTC(2024, 0, 15, 10, 30, 0);
const opts = (o: Partial<LogsOptions> = {}): LogsOptions => ({
  which: 'all',
  sinceMs: T0 - 600_000,
  follow: false,
  hidePlatform: false,
  ...o,
});
const app = (level: string, message: string, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ level, message, timestamp: 'x', service: 's', ...fields });

beforeEach(() => {
  logsMock.reset();
  stsMock.reset();
  stsMock
    .on(GetCallerIdentityCommand)
    .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/me' });
});
afterEach(() => {
  logsMock.reset();
  stsMock.reset();
});

describe('history (FilterLogEvents)', () => {
  it('reads both log groups page by page and prints them merged by time', async () => {
    logsMock
      .on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/paypipe-dev-producer' })
      .resolvesOnce({
        events: [
          {
            eventId: 'p1',
            timestamp: T0 + 1000,
            message: app('INFO', 'produced events', { sent: 100 }),
            logStreamName: 's1',
          },
        ],
        nextToken: 'more',
      })
      .resolvesOnce({
        events: [
          {
            eventId: 'p2',
            timestamp: T0 + 3000,
            message: app('INFO', 'produced events', { sent: 50 }),
            logStreamName: 's1',
          },
        ],
      });
    logsMock.on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/paypipe-dev-aggregator' }).resolves({
      events: [
        {
          eventId: 'a1',
          timestamp: T0 + 2000,
          message: app('WARN', 'rejected records', { rejected: 2 }),
          logStreamName: 's2',
        },
        {
          eventId: 'a2',
          timestamp: T0 + 2500,
          message:
            'REPORT RequestId: 1234abcd-x\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB',
        },
      ],
    });
    const c = captureIo();
    const summary = await runLogs(
      source,
      opts({ filter: '{ $.level = * }' }),
      c.io,
      new AbortController().signal,
    );
    expect(summary).toEqual({ printed: 4, mode: 'history' });
    expect(c.lines()).toEqual([
      '10:30:01.000 producer   INFO  produced events  sent=100',
      '10:30:02.000 aggregator WARN  rejected records  rejected=2',
      '10:30:02.500 aggregator REPORT 1234abcd 5 ms (billed 5 ms) · mem 90/512 MB',
      '10:30:03.000 producer   INFO  produced events  sent=50',
    ]);
    const calls = logsMock
      .commandCalls(FilterLogEventsCommand)
      .map((x) => x.args[0].input as FilterLogEventsCommandInput);
    expect(calls).toHaveLength(3);
    // The pattern and the start time go to CloudWatch as they are.
    expect(calls.every((i) => i.filterPattern === '{ $.level = * }' && i.startTime === T0 - 600_000)).toBe(
      true,
    );
    expect(calls.find((i) => i.nextToken === 'more')?.logGroupName).toBe('/aws/lambda/paypipe-dev-producer');
  });

  it('applies --level and --quiet locally, and prints raw events under --json', async () => {
    logsMock.on(FilterLogEventsCommand).resolves({
      events: [
        { eventId: 'a1', timestamp: T0, message: app('INFO', 'batch aggregated'), logStreamName: 's' },
        {
          eventId: 'a2',
          timestamp: T0 + 1,
          message: app('ERROR', 'put failed'),
          logStreamName: 's',
          ingestionTime: T0 + 9,
        },
        {
          eventId: 'a3',
          timestamp: T0 + 2,
          message: 'START RequestId: r Version: $LATEST',
          logStreamName: 's',
        },
      ],
    });
    const c = captureIo({ json: true });
    await runLogs(source, opts({ which: 'aggregator', level: 'warn' }), c.io, new AbortController().signal);
    expect(c.lines().map((l) => JSON.parse(l))).toEqual([
      {
        function: 'aggregator',
        timestamp: T0 + 1,
        message: app('ERROR', 'put failed'),
        logStreamName: 's',
        eventId: 'a2',
        ingestionTime: T0 + 9,
      },
    ]);
    // Only the aggregator's group was read.
    expect(logsMock.commandCalls(FilterLogEventsCommand).map((x) => x.args[0].input.logGroupName)).toEqual([
      '/aws/lambda/paypipe-dev-aggregator',
    ]);
  });

  it('says when a log group does not exist yet instead of failing', async () => {
    logsMock.on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/paypipe-dev-producer' }).rejects(
      Object.assign(new Error('The specified log group does not exist.'), {
        name: 'ResourceNotFoundException',
      }),
    );
    logsMock
      .on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/paypipe-dev-aggregator' })
      .resolves({ events: [] });
    const c = captureIo();
    const s = await runLogs(source, opts(), c.io, new AbortController().signal);
    expect(s.printed).toBe(0);
    expect(c.err()).toContain('log group /aws/lambda/paypipe-dev-producer does not exist yet');
  });

  it('turns an access error into one PaypipeError line with a hint', async () => {
    logsMock
      .on(FilterLogEventsCommand)
      .rejects(new AccessDeniedException({ message: 'not allowed', $metadata: {} }));
    const c = captureIo();
    await expect(runLogs(source, opts(), c.io, new AbortController().signal)).rejects.toMatchObject({
      code: 'AWS',
      message: expect.stringContaining('AccessDeniedException: not allowed'),
      hint: expect.stringContaining('logs:FilterLogEvents'),
    });
  });
});

type Item = StartLiveTailResponseStream;

/** A fake live tail response stream: yields `items`, then stays open until `until` aborts (if given). */
async function* stream(items: Item[], until?: AbortSignal): AsyncGenerator<Item> {
  for (const i of items) yield i;
  if (until !== undefined) {
    await new Promise<void>((res) => {
      if (until.aborted) res();
      until.addEventListener('abort', () => res());
    });
  }
}

const update = (events: Array<{ t: number; m: string; group: string }>, sampled = false): Item => ({
  sessionUpdate: {
    sessionMetadata: { sampled },
    sessionResults: events.map((e) => ({
      logGroupIdentifier: e.group,
      logStreamName: 'stream-1',
      timestamp: e.t,
      message: e.m,
      ingestionTime: e.t + 5,
    })),
  },
});

const AGG_ARN = 'arn:aws:logs:ap-southeast-2:123456789012:log-group:/aws/lambda/paypipe-dev-aggregator';
const PROD_ARN = 'arn:aws:logs:ap-southeast-2:123456789012:log-group:/aws/lambda/paypipe-dev-producer';

describe('--follow with live tail', () => {
  it('streams one session over both groups, warns on sampling, reconnects after the 3-hour limit and back-fills the gap', async () => {
    const ac = new AbortController();
    logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
    logsMock
      .on(StartLiveTailCommand)
      .resolvesOnce({
        responseStream: stream([
          { sessionStart: { sessionId: 's-1', logGroupIdentifiers: [PROD_ARN, AGG_ARN] } },
          update([
            { t: T0 + 100, m: app('INFO', 'produced events', { sent: 100 }), group: PROD_ARN },
            { t: T0 + 200, m: app('INFO', 'batch aggregated', { records_in: 100 }), group: `${AGG_ARN}:*` },
          ]),
          update([{ t: T0 + 300, m: app('WARN', 'late events', { late: 3 }), group: AGG_ARN }], true),
          {
            SessionTimeoutException: { name: 'SessionTimeoutException', message: 'Session timed out' },
          } as Item,
        ]),
      })
      .resolvesOnce({
        responseStream: stream(
          [
            { sessionStart: { sessionId: 's-2' } },
            update([{ t: T0 + 900, m: app('ERROR', 'put failed'), group: AGG_ARN }]),
          ],
          ac.signal,
        ),
      });
    const c = captureIo();
    const run = runLogs(source, opts({ follow: true }), c.io, ac.signal);
    await waitFor(() => c.out().includes('put failed'), 'the second session’s event');
    ac.abort();
    expect(await run).toEqual({ printed: 4, mode: 'live-tail' });
    expect(c.lines()).toEqual([
      '10:30:00.100 producer   INFO  produced events  sent=100',
      '10:30:00.200 aggregator INFO  batch aggregated  records_in=100',
      '10:30:00.300 aggregator WARN  late events  late=3',
      '10:30:00.900 aggregator ERROR put failed',
    ]);
    const err = c.err();
    expect(err).toContain('CloudWatch is sampling this live tail');
    expect(err).toContain('3-hour limit; reconnecting');
    const starts = logsMock
      .commandCalls(StartLiveTailCommand)
      .map((x) => x.args[0].input as StartLiveTailCommandInput);
    expect(starts).toHaveLength(2);
    expect(starts[0]?.logGroupIdentifiers).toEqual([PROD_ARN, AGG_ARN]);
    // History first, then one back-fill after the reconnect starting at the newest event seen.
    const filters = logsMock.commandCalls(FilterLogEventsCommand).map((x) => x.args[0].input.startTime);
    expect(filters).toEqual([T0 - 600_000, T0 - 600_000, T0 + 300, T0 + 300]);
  });

  it('prints a back-filled event once even when the new session repeats it', async () => {
    const ac = new AbortController();
    const gap = { t: T0 + 500, m: app('INFO', 'in the gap'), group: AGG_ARN };
    logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
    logsMock
      .on(FilterLogEventsCommand, { startTime: T0 + 100, logGroupName: '/aws/lambda/paypipe-dev-aggregator' })
      .resolves({
        events: [{ eventId: 'e-gap', timestamp: gap.t, message: gap.m, logStreamName: 'stream-1' }],
      });
    logsMock
      .on(StartLiveTailCommand)
      .resolvesOnce({
        responseStream: stream([
          update([{ t: T0 + 100, m: app('INFO', 'first'), group: AGG_ARN }]),
          { SessionStreamingException: { name: 'SessionStreamingException', message: 'internal' } } as Item,
        ]),
      })
      .resolvesOnce({
        responseStream: stream(
          [update([gap]), update([{ t: T0 + 600, m: app('INFO', 'last'), group: AGG_ARN }])],
          ac.signal,
        ),
      });
    const c = captureIo();
    const run = runLogs(source, opts({ follow: true, which: 'aggregator' }), c.io, ac.signal);
    await waitFor(() => c.out().includes('last'), 'the last event');
    ac.abort();
    await run;
    expect(c.lines().map((l) => l.split('INFO  ')[1])).toEqual(['first', 'in the gap', 'last']);
    expect(c.err()).toContain('the live tail stream failed (internal); reconnecting');
  });
});

describe('--follow fallback to polling', () => {
  it('polls FilterLogEvents when live tail is denied, printing each event once', async () => {
    const ac = new AbortController();
    logsMock
      .on(StartLiveTailCommand)
      .rejects(new AccessDeniedException({ message: 'no live tail', $metadata: {} }));
    const e1 = { eventId: 'e1', timestamp: T0 + 1000, message: app('INFO', 'one'), logStreamName: 's' };
    const e2 = { eventId: 'e2', timestamp: T0 + 2000, message: app('INFO', 'two'), logStreamName: 's' };
    const e3 = {
      eventId: 'e3',
      timestamp: T0 + 1500,
      message: app('INFO', 'three (ingested late)'),
      logStreamName: 's',
    };
    logsMock
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [e1] }) // history
      .resolvesOnce({ events: [e1, e2] }) // first poll overlaps the history
      .resolvesOnce({ events: [e1, e3, e2] }) // a late event inside the look-back margin
      .resolves({ events: [e2] });
    const c = captureIo();
    const run = runLogs(source, opts({ follow: true, which: 'producer', pollMs: 10 }), c.io, ac.signal);
    await waitFor(() => logsMock.commandCalls(FilterLogEventsCommand).length >= 5, 'a few polls');
    ac.abort();
    expect(await run).toMatchObject({ mode: 'polling', printed: 3 });
    expect(c.lines().map((l) => l.split('INFO  ')[1])).toEqual(['one', 'two', 'three (ingested late)']);
    expect(c.err()).toContain('live tail is not available (AccessDeniedException: no live tail); polling');
    const polls = logsMock.commandCalls(FilterLogEventsCommand).map((x) => x.args[0].input.startTime);
    // After the history, polls start at the newest event (minus the late-arrival margin, not before --since).
    expect(polls[1]).toBe(T0 + 1000);
    expect(polls[2]).toBe(Math.max(T0 + 1000, T0 + 2000 - 30_000));
  });
});
