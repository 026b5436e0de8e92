/**
 * `paypipe logs --local` on real files in the local pipeline's layout (`<dataDir>/logs/<fn>.ndjson`,
 * one CloudWatch-like event per line): history, filters, and --follow tailing appends, torn lines
 * and truncation.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogFileTail } from '../../../src/local/log-files.js';
import { type LogsOptions, runLogs } from '../../../src/cli/logs/logs.js';
import { captureIo, waitFor } from '../../helpers/ops.js';

let dir: string;
const T0 = Date.UTC(2024, 0, 15, 10, 30, 0);
const line = (timestamp: number, message: string, logStreamName = '2024/01/15/[$LATEST]abc'): string =>
  `${JSON.stringify({ timestamp, logStreamName, message })}\n`;
const app = (level: string, message: string, fields: Record<string, unknown> = {}): string =>
  JSON.stringify({ level, message, timestamp: 'x', service: 's', function_name: 'f', ...fields });
const opts = (o: Partial<LogsOptions> = {}): LogsOptions => ({
  which: 'all',
  sinceMs: T0 - 60_000,
  follow: false,
  hidePlatform: false,
  ...o,
});
const file = (fn: string): string => join(dir, 'logs', `${fn}.ndjson`);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'paypipe-logs-'));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(
    file('producer'),
    line(T0 - 120_000, app('INFO', 'too old')) +
      line(T0 + 1000, 'START RequestId: p-1 Version: $LATEST') +
      line(T0 + 1100, app('INFO', 'produced events', { sent: 100 })) +
      line(T0 + 1200, 'END RequestId: p-1') +
      line(
        T0 + 1201,
        'REPORT RequestId: p-1\tDuration: 110.00 ms\tBilled Duration: 110 ms\tMemory Size: 256 MB\tMax Memory Used: 76 MB',
      ),
  );
  writeFileSync(
    file('aggregator'),
    line(
      T0 + 1150,
      app('WARN', 'rejected records', { rejected: 2, rejected_by_reason: { unknown_currency: 2 } }),
    ) +
      'not json at all\n' +
      line(
        T0 + 1300,
        `2024-01-15T10:30:01.300Z\ta-1\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"boom"}`,
      ),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('history', () => {
  it('merges both files by time from --since, folding platform lines', async () => {
    const c = captureIo();
    const s = await runLogs({ kind: 'local', dataDir: dir }, opts(), c.io, new AbortController().signal);
    expect(c.lines()).toEqual([
      '10:30:01.100 producer   INFO  produced events  sent=100',
      '10:30:01.150 aggregator WARN  rejected records  rejected=2 rejected_by_reason=unknown_currency:2',
      '10:30:01.201 producer   REPORT p-1 110 ms (billed 110 ms) · mem 76/256 MB',
      '10:30:01.300 aggregator ERROR Invoke Error \t{"errorType":"Error","errorMessage":"boom"}',
    ]);
    expect(s).toEqual({ printed: 4, mode: 'history' });
  });

  it('applies one function, --level, --quiet and the local filter subset', async () => {
    const c1 = captureIo();
    await runLogs(
      { kind: 'local', dataDir: dir },
      opts({ which: 'producer', hidePlatform: true }),
      c1.io,
      new AbortController().signal,
    );
    expect(c1.lines()).toEqual(['10:30:01.100 producer   INFO  produced events  sent=100']);

    const c2 = captureIo();
    await runLogs(
      { kind: 'local', dataDir: dir },
      opts({ level: 'warn' }),
      c2.io,
      new AbortController().signal,
    );
    expect(c2.lines().map((l) => l.slice(13, 30))).toEqual(['aggregator WARN  ', 'aggregator ERROR ']);

    const c3 = captureIo();
    await runLogs(
      { kind: 'local', dataDir: dir },
      opts({ filter: '{ $.rejected > 1 }' }),
      c3.io,
      new AbortController().signal,
    );
    expect(c3.lines()).toHaveLength(1);
    expect(c3.lines()[0]).toContain('rejected records');

    const c4 = captureIo();
    await runLogs(
      { kind: 'local', dataDir: dir },
      opts({ filter: 'RequestId -END' }),
      c4.io,
      new AbortController().signal,
    );
    // START is folded away in human output, END excluded: only REPORT remains.
    expect(c4.lines()).toEqual(['10:30:01.201 producer   REPORT p-1 110 ms (billed 110 ms) · mem 76/256 MB']);
  });

  it('prints the raw events as NDJSON with --json, START/END included', async () => {
    const c = captureIo({ json: true });
    await runLogs(
      { kind: 'local', dataDir: dir },
      opts({ which: 'producer' }),
      c.io,
      new AbortController().signal,
    );
    const events = c
      .lines()
      .map((l) => JSON.parse(l) as { function: string; timestamp: number; message: string });
    expect(events.map((e) => e.timestamp)).toEqual([T0 + 1000, T0 + 1100, T0 + 1200, T0 + 1201]);
    expect(events[0]).toEqual({
      function: 'producer',
      timestamp: T0 + 1000,
      message: 'START RequestId: p-1 Version: $LATEST',
      logStreamName: '2024/01/15/[$LATEST]abc',
    });
  });

  it('rejects a pattern the local subset cannot run, and a data dir without logs', async () => {
    const c = captureIo();
    await expect(
      runLogs(
        { kind: 'local', dataDir: dir },
        opts({ filter: '[ip, user]' }),
        c.io,
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('space-delimited') });
    await expect(
      runLogs({ kind: 'local', dataDir: join(dir, 'nope') }, opts(), c.io, new AbortController().signal),
    ).rejects.toMatchObject({ code: 'LOCAL_NOT_RUNNING', message: expect.stringContaining('nope/logs') });
  });
});

describe('--follow', () => {
  it('tails appends to both files, waits for torn lines to complete, and ends on abort', async () => {
    const ac = new AbortController();
    const c = captureIo();
    const run = runLogs(
      { kind: 'local', dataDir: dir },
      opts({ follow: true, pollMs: 10, hidePlatform: true }),
      c.io,
      ac.signal,
    );
    await waitFor(() => c.lines().length === 3, 'the history');
    appendFileSync(file('aggregator'), line(T0 + 5000, app('INFO', 'batch aggregated', { records_in: 7 })));
    await waitFor(() => c.out().includes('records_in=7'), 'an appended line');
    // A line written in two pieces is printed once, whole.
    const torn = line(T0 + 6000, app('INFO', 'second half arrives later', { aggregates_out: 3 }));
    appendFileSync(file('producer'), torn.slice(0, 25));
    // Every poll reads all files, so once a marker appended after the torn half is printed, and then
    // a second one (whose poll began after the first was printed), a whole poll has read the torn half.
    for (const [i, ms] of [5100, 5200].entries()) {
      appendFileSync(file('aggregator'), line(T0 + ms, app('INFO', `marker ${i}`)));
      await waitFor(() => c.out().includes(`marker ${i}`), `marker ${i}`);
    }
    expect(c.out()).not.toContain('second half');
    appendFileSync(file('producer'), torn.slice(25));
    await waitFor(() => c.out().includes('aggregates_out=3'), 'the completed line');
    ac.abort();
    expect(await run).toMatchObject({ mode: 'tail', printed: 7 });
    expect(c.lines().slice(3)).toEqual([
      '10:30:05.000 aggregator INFO  batch aggregated  records_in=7',
      '10:30:05.100 aggregator INFO  marker 0',
      '10:30:05.200 aggregator INFO  marker 1',
      '10:30:06.000 producer   INFO  second half arrives later  aggregates_out=3',
    ]);
  });

  it('starts over when a file is truncated or replaced', async () => {
    const tail = new LogFileTail(file('producer'), 'producer');
    expect((await tail.readNew()).length).toBe(5);
    expect(await tail.readNew()).toEqual([]);
    writeFileSync(file('producer'), line(T0 + 9000, app('INFO', 'after rotation')));
    const after = await tail.readNew();
    expect(after.map((e) => e.message)).toEqual([app('INFO', 'after rotation')]);
    rmSync(file('producer'));
    expect(await tail.readNew()).toEqual([]);
  });
});
