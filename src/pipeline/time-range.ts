/**
 * `results` time selection: --date/--hour, --from/--to or --last → a half-open UTC range
 * [fromMs, toMs). Pure: "now" is passed in. Every problem is a one-line usage error naming the flag.
 */
import { usageError } from '../errors.js';

export interface RangeFlags {
  date?: string | undefined;
  hour?: number | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Milliseconds (already parsed by durationFlag). */
  last?: number | undefined;
}

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** 31 days of hourly partitions is 744 listings: beyond that, narrow the range. */
export const MAX_RANGE_MS = 31 * DAY_MS;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** `2024-01-15` → midnight UTC; undefined when not a real calendar date. */
export function parseDate(text: string): number | undefined {
  const m = DATE.exec(text.trim());
  if (m === null) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return ms;
}

/**
 * An ISO instant: `2024-01-15`, `2024-01-15T10:30`, `2024-01-15T10:30:00.000Z`, `…+10:00`. Without a
 * zone it is UTC (the partitions and windows are UTC), never the machine's local time.
 */
export function parseInstant(text: string): number | undefined {
  const t = text.trim();
  const d = parseDate(t);
  if (d !== undefined) return d;
  const m = DATETIME.exec(t);
  if (m === null) return undefined;
  const day = parseDate(`${m[1]}-${m[2]}-${m[3]}`);
  const [h, mi, s] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (day === undefined || h > 23 || mi > 59 || s > 59) return undefined;
  const frac = Number((m[7] ?? '0').padEnd(3, '0'));
  let ms = day + h * HOUR_MS + mi * 60_000 + s * 1000 + frac;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z === null) return undefined;
    const off = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
    ms -= z[1] === '+' ? off : -off;
  }
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The range the flags select; `fallback` when none is given (e.g. a --verify summary's range). */
export function resolveRange(f: RangeFlags, nowMs: number, fallback?: TimeRange): TimeRange {
  const given = (k: keyof RangeFlags): boolean => f[k] !== undefined;
  if (given('last') && (given('date') || given('hour') || given('from') || given('to'))) {
    throw usageError('--last cannot be combined with --date, --hour, --from or --to');
  }
  if ((given('from') || given('to')) && (given('date') || given('hour'))) {
    throw usageError('use either --date/--hour or --from/--to, not both');
  }
  let range: TimeRange;
  if (f.last !== undefined) {
    range = { fromMs: nowMs - f.last, toMs: nowMs };
  } else if (f.from !== undefined || f.to !== undefined) {
    if (f.from === undefined) throw usageError('--to needs --from (a UTC ISO time like 2024-01-15T10:00Z)');
    const fromMs = parseInstant(f.from);
    if (fromMs === undefined)
      throw usageError(`--from must be a UTC ISO time like 2024-01-15T10:00Z, got "${f.from}"`);
    const toMs = f.to === undefined ? nowMs : parseInstant(f.to);
    if (toMs === undefined)
      throw usageError(`--to must be a UTC ISO time like 2024-01-15T11:00Z, got "${f.to}"`);
    if (toMs <= fromMs) throw usageError(`--to (${iso(toMs)}) must be after --from (${iso(fromMs)})`);
    range = { fromMs, toMs };
  } else if (f.date !== undefined || f.hour !== undefined) {
    let day: number;
    if (f.date !== undefined) {
      const d = parseDate(f.date);
      if (d === undefined)
        throw usageError(`--date must be a calendar date like 2024-01-15, got "${f.date}"`);
      day = d;
    } else day = Math.floor(nowMs / DAY_MS) * DAY_MS; // --hour alone: today's (UTC) hour
    range =
      f.hour === undefined
        ? { fromMs: day, toMs: day + DAY_MS }
        : { fromMs: day + f.hour * HOUR_MS, toMs: day + (f.hour + 1) * HOUR_MS };
  } else if (fallback !== undefined) {
    range = fallback;
  } else {
    range = { fromMs: nowMs - HOUR_MS, toMs: nowMs };
  }
  if (range.toMs - range.fromMs > MAX_RANGE_MS) {
    throw usageError(
      `the range ${iso(range.fromMs)} → ${iso(range.toMs)} is longer than 31 days`,
      'narrow it with --from/--to or --date',
    );
  }
  return range;
}

/** The range a send summary's events fall in, widened to whole windows. */
export function rangeOfEventTimes(fromIso: string, toIso: string, windowMs: number): TimeRange {
  const from = Date.parse(fromIso);
  const to = Date.parse(toIso);
  return {
    fromMs: Math.floor(from / windowMs) * windowMs,
    toMs: Math.floor(to / windowMs) * windowMs + windowMs,
  };
}
