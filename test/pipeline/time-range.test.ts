/**
 * The one time vocabulary (src/pipeline/time-range.ts, src/pipeline/duration.ts).
 *
 * Adversaries: a machine whose local time zone is not UTC (a zoneless time must still mean UTC, in
 * every command: `logs --since` used Date.parse and read it as local time); a default printed as
 * milliseconds; a formatted duration that does not parse back; a range whose end is before its
 * start; two spellings of the same flag given at once.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/pipeline/duration.js';
import {
  implicitWhen,
  oneOf,
  parseInstant,
  parseWhen,
  rangeOfEventTimes,
  resolveRange,
  resolveSince,
  type WhenFlag,
  whenMs,
} from '../../src/pipeline/time-range.js';

const now = Date.UTC(2024, 0, 15, 10, 42, 17);
const given = (flag: string, text: string): WhenFlag => {
  const w = parseWhen(text);
  if (w === undefined) throw new Error(`not a when: ${text}`);
  return { ...w, flag, text };
};

describe('durations', () => {
  it('format as users write them and parse back to the same milliseconds', () => {
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(24 * 3_600_000)).toBe('1d');
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(1500)).toBe('1s500ms');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });

  it('rejects bare numbers and unknown units', () => {
    for (const t of ['10', '', ' ', '5x', '1w', 'm', '-5m', '1h-30m'])
      expect(parseDuration(t)).toBeUndefined();
  });
});

describe('parseWhen: one parser for every time flag', () => {
  const savedTz = process.env.TZ;
  beforeAll(() => {
    // A zoneless time must mean UTC whatever the machine's zone (Node reads TZ at each use).
    process.env.TZ = 'America/New_York';
  });
  afterAll(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('reads durations ago, UTC times (zoneless is UTC, offsets honoured), dates and now', () => {
    expect(whenMs(given('--since', '10m'), now)).toBe(now - 600_000);
    expect(whenMs(given('--since', '1h30m'), now)).toBe(now - 5_400_000);
    expect(whenMs(given('--since', '2024-01-15T10:30'), now)).toBe(Date.UTC(2024, 0, 15, 10, 30));
    expect(whenMs(given('--since', '2024-01-15T10:30Z'), now)).toBe(Date.UTC(2024, 0, 15, 10, 30));
    expect(whenMs(given('--since', '2024-01-15 10:30:05.5Z'), now)).toBe(
      Date.UTC(2024, 0, 15, 10, 30, 5, 500),
    );
    expect(whenMs(given('--since', '2024-01-15T10:30+10:00'), now)).toBe(Date.UTC(2024, 0, 15, 0, 30));
    expect(whenMs(given('--since', '2024-01-15'), now)).toBe(Date.UTC(2024, 0, 15));
    expect(whenMs(given('--since', 'now'), now)).toBe(now);
    expect(parseWhen('trim-horizon')).toEqual({ kind: 'trim-horizon' });
  });

  it('rejects what is none of the forms', () => {
    for (const t of ['yesterday', '10', '2024-13-45', '2024-01-15T24:00Z', '15/01/2024', '2024-02-30', '']) {
      expect(parseWhen(t), t).toBeUndefined();
    }
    expect(parseInstant('2024-01-15T10:30+25:00')).toBeUndefined();
  });

  it('a stream position is not an instant: the error names the flag', () => {
    expect(() => whenMs(given('--since', 'trim-horizon'), now)).toThrow(
      /--since trim-horizon: a stream position/,
    );
  });

  it('every UTC instant printed as ISO reads back as itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }), (ms) => {
        expect(whenMs(given('--until', new Date(ms).toISOString()), now)).toBe(ms);
      }),
    );
  });
});

describe('resolveRange: one range rule', () => {
  it('resolves every way of naming a range to a half-open UTC range', () => {
    expect(resolveRange({ date: '2024-01-14', hour: 23 }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 14, 23),
      toMs: Date.UTC(2024, 0, 15),
    });
    expect(resolveRange({ hour: 3 }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 15, 3),
      toMs: Date.UTC(2024, 0, 15, 4),
    });
    expect(resolveRange({ date: '2024-01-14' }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 14),
      toMs: Date.UTC(2024, 0, 15),
    });
    expect(resolveRange({ since: given('--since', '30m') }, now)).toEqual({
      fromMs: now - 1_800_000,
      toMs: now,
    });
    expect(resolveRange({ since: given('--from', '2024-01-15T10:30') }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 15, 10, 30),
      toMs: now,
    });
    // Only an end: the default length before it.
    expect(resolveRange({ until: given('--until', '2024-01-15T09:00Z') }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 15, 8),
      toMs: Date.UTC(2024, 0, 15, 9),
    });
    expect(resolveRange({}, now)).toEqual({ fromMs: now - 3_600_000, toMs: now });
    expect(() =>
      resolveRange({ since: given('--since', '2023-01-01'), until: given('--until', '2024-01-01') }, now),
    ).toThrow(/longer than 31d/);
  });

  it('a default start yields to --date/--hour and to a fallback; a given one conflicts with them', () => {
    const def = implicitWhen('--since', '1h');
    expect(resolveRange({ since: def, hour: 3 }, now)).toEqual({
      fromMs: Date.UTC(2024, 0, 15, 3),
      toMs: Date.UTC(2024, 0, 15, 4),
    });
    const fallback = { fromMs: 1000, toMs: 61_000 };
    expect(resolveRange({ since: def }, now, { fallback })).toEqual(fallback);
    expect(() => resolveRange({ since: given('--last', '5m'), hour: 3 }, now)).toThrow(
      /use either --date\/--hour or --last, not both/,
    );
  });

  it('the end is after the start, or the error names both flags as typed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        (a, b) => {
          const f = { since: given('--from', formatDuration(a)), until: given('--to', formatDuration(b)) };
          if (a > b) {
            const r = resolveRange(f, now);
            expect(r.fromMs).toBeLessThan(r.toMs);
            expect(r.toMs - r.fromMs).toBe(a - b);
          } else expect(() => resolveRange(f, now)).toThrow(/--to \(.*\) must be after --from/);
        },
      ),
    );
  });

  it('one value per flag and its old spellings; defaults yield', () => {
    const def = implicitWhen('--since', '5m');
    expect(oneOf(undefined, undefined)).toBeUndefined();
    expect(oneOf(def, undefined)).toBe(def);
    const at = given('--at', '2024-01-15T10:00Z');
    expect(oneOf(def, at)).toBe(at);
    expect(() => oneOf(given('--since', '1h'), at)).toThrow(/--since and --at both say where to start/);
  });

  it('resolveSince: never in the future, never beyond 31 days', () => {
    expect(resolveSince(given('--since', '2h'), now)).toBe(now - 7_200_000);
    expect(() => resolveSince(given('--since', '2099-01-01'), now)).toThrow(/is in the future/);
    expect(() => resolveSince(given('--since', '40d'), now)).toThrow(/more than 31d ago/);
  });

  it('a send summary covers whole windows', () => {
    expect(rangeOfEventTimes('2024-01-15T10:30:10Z', '2024-01-15T10:31:59Z', 60_000)).toEqual({
      fromMs: Date.UTC(2024, 0, 15, 10, 30),
      toMs: Date.UTC(2024, 0, 15, 10, 32),
    });
  });
});
