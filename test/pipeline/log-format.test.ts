import { describe, expect, it } from 'vitest';
import {
  compileFilterPattern,
  eventLevel,
  keepEvent,
  LogFilterError,
  type LogEvent,
  type Paint,
  parseLogMessage,
  renderEvent,
} from '../../src/pipeline/log-format.js';

const plain: Paint = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};
const tagged: Paint = {
  bold: (s) => `<b>${s}</b>`,
  dim: (s) => s,
  red: (s) => `<red>${s}</red>`,
  green: (s) => `<green>${s}</green>`,
  yellow: (s) => `<yellow>${s}</yellow>`,
  cyan: (s) => s,
};

const T = Date.UTC(2024, 0, 15, 10, 30, 5, 123);
const ev = (message: string, fn = 'aggregator'): LogEvent => ({ function: fn, timestamp: T, message });
const render = (message: string, paint = plain, fn = 'aggregator'): string | undefined =>
  renderEvent(ev(message, fn), parseLogMessage(message), paint);

const aggregatorLine = JSON.stringify({
  level: 'INFO',
  message: 'batch aggregated',
  timestamp: '2024-01-15T10:30:05.123Z',
  service: 'aggregator',
  function_name: 'paypipe-dev-aggregator',
  function_request_id: '8f5c2e1a-aaaa-bbbb-cccc-000000000000',
  duration_ms: 12,
  shard: 'shardId-000000000001',
  records_in: 500,
  valid: 497,
  rejected: 3,
  rejected_by_reason: { unknown_currency: 2, negative_amount: 1 },
  aggregates_out: 14,
  windows: ['2024-01-15T10:29:00.000Z', '2024-01-15T10:30:00.000Z'],
});

describe('parseLogMessage', () => {
  it('reads the handlers JSON lines: level, message, request id, fields without the envelope', () => {
    const p = parseLogMessage(aggregatorLine);
    expect(p.kind).toBe('app');
    if (p.kind !== 'app') return;
    expect(p.level).toBe('info');
    expect(p.message).toBe('batch aggregated');
    expect(p.requestId).toBe('8f5c2e1a-aaaa-bbbb-cccc-000000000000');
    expect(Object.keys(p.fields).sort()).toEqual(
      [
        'aggregates_out',
        'duration_ms',
        'records_in',
        'rejected',
        'rejected_by_reason',
        'shard',
        'valid',
        'windows',
      ].sort(),
    );
  });

  it('reads the platform lines in text format, with REPORT metrics', () => {
    expect(parseLogMessage('START RequestId: abc-1 Version: $LATEST')).toEqual({
      kind: 'platform',
      type: 'START',
      requestId: 'abc-1',
    });
    expect(parseLogMessage('END RequestId: abc-1')).toMatchObject({ type: 'END', requestId: 'abc-1' });
    const r = parseLogMessage(
      'REPORT RequestId: abc-1\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\tMax Memory Used: 70 MB\tInit Duration: 180.42 ms\t\n',
    );
    expect(r).toEqual({
      kind: 'platform',
      type: 'REPORT',
      requestId: 'abc-1',
      durationMs: 102.25,
      billedMs: 103,
      memoryMB: 512,
      maxMemoryMB: 70,
      initMs: 180.42,
      status: undefined,
    });
    const t = parseLogMessage(
      'REPORT RequestId: x\tDuration: 60000.00 ms\tBilled Duration: 60000 ms\tMemory Size: 128 MB\tMax Memory Used: 90 MB\tStatus: timeout',
    );
    expect(t).toMatchObject({ type: 'REPORT', status: 'timeout' });
    expect(eventLevel(t)).toBe('error');
  });

  it("reads Lambda's JSON log format platform events", () => {
    const r = parseLogMessage(
      JSON.stringify({
        time: '2024-01-15T10:30:05.123Z',
        type: 'platform.report',
        record: {
          requestId: 'r-2',
          metrics: { durationMs: 5.5, billedDurationMs: 6, memorySizeMB: 256, maxMemoryUsedMB: 80 },
          status: 'success',
        },
      }),
    );
    expect(r).toMatchObject({
      kind: 'platform',
      type: 'REPORT',
      requestId: 'r-2',
      durationMs: 5.5,
      maxMemoryMB: 80,
    });
    expect(
      parseLogMessage(JSON.stringify({ type: 'platform.start', record: { requestId: 'r-2' } })),
    ).toMatchObject({
      type: 'START',
    });
  });

  it("reads the Node runtime's text prefix, JSON or not", () => {
    const err = parseLogMessage(
      '2024-01-15T10:30:05.123Z\tabc-1\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"boom"}',
    );
    expect(err).toMatchObject({ kind: 'text', level: 'error', requestId: 'abc-1' });
    const json = parseLogMessage(
      '2024-01-15T10:30:05.123Z\tabc-1\tWARN\t{"message":"slow","duration_ms":900}',
    );
    expect(json).toMatchObject({ kind: 'app', level: 'warn', message: 'slow', requestId: 'abc-1' });
  });

  it('keeps anything else as text, and spots Lambda timeouts as errors', () => {
    expect(parseLogMessage('hello world')).toEqual({ kind: 'text', level: 'info', message: 'hello world' });
    expect(parseLogMessage('{"not":"a log line"}')).toMatchObject({ kind: 'text', level: 'info' });
    expect(parseLogMessage('2024-01-15T10:30:05.123Z abc Task timed out after 60.06 seconds')).toMatchObject({
      kind: 'text',
      level: 'error',
    });
  });
});

describe('renderEvent', () => {
  it('prints time, function, level, message and the key fields first', () => {
    const line = render(aggregatorLine);
    expect(line).toBe(
      '10:30:05.123 aggregator INFO  batch aggregated  records_in=500 valid=497 rejected=3 rejected_by_reason=unknown_currency:2,negative_amount:1 aggregates_out=14 windows=[10:29,10:30] shard=shardId-000000000001 duration_ms=12',
    );
  });

  it('colours the level only through the paint it is given', () => {
    const warnLine = JSON.stringify({ level: 'WARN', message: 'late events', late: 4 });
    expect(render(warnLine, tagged)).toContain('<yellow>WARN </yellow> late events');
    const errLine = JSON.stringify({
      level: 'ERROR',
      message: 'put failed',
      error: { name: 'ProvisionedThroughputExceededException', message: 'Rate exceeded', stack: 'at x' },
    });
    const out = render(errLine, tagged) ?? '';
    expect(out).toContain('<b><red>ERROR</red></b>');
    expect(out).toContain('error="ProvisionedThroughputExceededException: Rate exceeded"');
    expect(out).not.toContain('at x');
    expect(render(errLine, plain)).not.toContain('<');
  });

  it('folds START and END away and prints REPORT as one compact line', () => {
    expect(render('START RequestId: 8f5c2e1a-1111 Version: $LATEST')).toBeUndefined();
    expect(render('END RequestId: 8f5c2e1a-1111')).toBeUndefined();
    expect(
      render(
        'REPORT RequestId: 8f5c2e1a-1111\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\tMax Memory Used: 70 MB\tInit Duration: 180.42 ms',
        plain,
        'producer',
      ),
    ).toBe(
      '10:30:05.123 producer   REPORT 8f5c2e1a 102 ms (billed 103 ms) · mem 70/512 MB · cold start 180 ms',
    );
  });

  it('prints text lines with their level, and dates on request', () => {
    const m = '2024-01-15T10:30:05.123Z\tabc-1\tERROR\tInvoke Error \t{"errorType":"Error"}';
    expect(render(m)).toBe('10:30:05.123 aggregator ERROR Invoke Error \t{"errorType":"Error"}');
    expect(renderEvent(ev('hi'), parseLogMessage('hi'), plain, { date: true })).toBe(
      '2024-01-15 10:30:05.123 aggregator INFO  hi',
    );
  });

  it('quotes strings with spaces and clips very long values', () => {
    const line =
      render(JSON.stringify({ level: 'INFO', message: 'm', reason: 'two words', blob: 'x'.repeat(500) })) ??
      '';
    expect(line).toContain('reason="two words"');
    const blob = /blob=(\S+)/.exec(line)?.[1] ?? '';
    expect(blob.length).toBe(120);
    expect(blob.endsWith('…')).toBe(true);
  });
});

describe('keepEvent', () => {
  const keep = (m: string, f: Parameters<typeof keepEvent>[2]): boolean =>
    keepEvent(m, parseLogMessage(m), f);
  const info = JSON.stringify({ level: 'INFO', message: 'a' });
  const warnL = JSON.stringify({ level: 'WARN', message: 'b' });
  const report = 'REPORT RequestId: x\tDuration: 1.00 ms';

  it('applies the minimum level; platform lines count as info', () => {
    expect(keep(info, { minLevel: 'warn' })).toBe(false);
    expect(keep(warnL, { minLevel: 'warn' })).toBe(true);
    expect(keep(report, { minLevel: 'warn' })).toBe(false);
    expect(keep(report, { minLevel: 'info' })).toBe(true);
  });

  it('hides platform lines with hidePlatform', () => {
    expect(keep(report, { hidePlatform: true })).toBe(false);
    expect(keep(info, { hidePlatform: true })).toBe(true);
  });
});

describe('compileFilterPattern', () => {
  const line = (o: Record<string, unknown>): string => JSON.stringify(o);
  const cases: Array<[string, string, boolean]> = [
    ['', 'anything', true],
    ['ERROR', 'an ERROR here', true],
    ['ERROR', 'an error here', false],
    ['ERROR timeout', 'ERROR: timeout', true],
    ['ERROR timeout', 'ERROR only', false],
    ['"put failed"', 'the put failed twice', true],
    ['"put failed"', 'failed put', false],
    ['ERROR -retry', 'ERROR retry 2', false],
    ['ERROR -retry', 'ERROR once', true],
    ['?WARN ?ERROR', 'a WARN', true],
    ['?WARN ?ERROR', 'an INFO', false],
    ['%shard-0+1%', 'shard-0001', true],
    ['%^REPORT%', 'START', false],
    ['{ $.level = "ERROR" }', line({ level: 'ERROR' }), true],
    ['{ $.level = "ERROR" }', line({ level: 'INFO' }), false],
    ['{ $.level = ERROR }', line({ level: 'ERROR' }), true],
    ['{ $.level != "INFO" }', line({ level: 'WARN' }), true],
    ['{ $.level != "INFO" }', line({ message: 'no level' }), false],
    ['{ $.records_in > 100 }', line({ records_in: 500 }), true],
    ['{ $.records_in > 100 }', line({ records_in: 50 }), false],
    ['{ $.records_in >= 50 && $.rejected = 0 }', line({ records_in: 50, rejected: 0 }), true],
    ['{ $.records_in >= 50 && $.rejected = 0 }', line({ records_in: 50, rejected: 1 }), false],
    ['{ $.rejected > 0 || $.level = "ERROR" }', line({ rejected: 0, level: 'ERROR' }), true],
    ['{ ($.a = 1 || $.b = 1) && $.c = 1 }', line({ a: 1, c: 0 }), false],
    ['{ ($.a = 1 || $.b = 1) && $.c = 1 }', line({ b: 1, c: 1 }), true],
    ['{ $.shard = "shardId-*1" }', line({ shard: 'shardId-000000000001' }), true],
    ['{ $.shard = "shardId-*1" }', line({ shard: 'shardId-000000000002' }), false],
    [
      '{ $.rejected_by_reason.unknown_currency > 1 }',
      line({ rejected_by_reason: { unknown_currency: 2 } }),
      true,
    ],
    ['{ $.windows[1] = "b" }', line({ windows: ['a', 'b'] }), true],
    ['{ $.error EXISTS }', line({ error: 'x' }), true],
    ['{ $.error NOT EXISTS }', line({ error: 'x' }), false],
    ['{ $.cold_start IS TRUE }', line({ cold_start: true }), true],
    ['{ $.x IS NULL }', line({ x: null }), true],
    ['{ $.message = %fail(ed)?% }', line({ message: 'put failed' }), true],
    ['{ $.level = "ERROR" }', 'not json', false],
    ['{ $.level = "ERROR" }', `2024-01-15T10:30:05.123Z\tid\tERROR\t${line({ level: 'ERROR' })}`, true],
  ];
  it.each(cases)('%s on %s → %s', (pattern, message, expected) => {
    expect(compileFilterPattern(pattern)(message)).toBe(expected);
  });

  it.each([
    ['{ $.level = "ERROR"', 'no closing'],
    ['{ level = 1 }', 'expected a selector'],
    ['{ $.a > "x" }', 'needs a number'],
    ['{ $.a = }', 'ends too early'],
    ['{ $.a = "x }', 'unterminated'],
    ['[ip, user]', 'not supported locally'],
    ['%(%', 'invalid regular expression'],
  ])('rejects %s with a one-line reason', (pattern, reason) => {
    let err: unknown;
    try {
      compileFilterPattern(pattern);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LogFilterError);
    expect((err as Error).message).toContain(reason);
    expect((err as Error).message).not.toContain('\n');
  });
});
