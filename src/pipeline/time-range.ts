/**
 * The one time vocabulary of the CLI, and its one parser. Every command that takes a time reads it
 * here, so `--since 2h` means the same in results, peek, logs and dead-letters:
 *
 *   --since <when>   where to start: a duration ago (30s, 10m, 2h, 1d, 1h30m), a UTC ISO time
 *                    (2024-01-15T10:30Z; a date alone is midnight UTC; without a zone it is UTC,
 *                    never the machine's local time), or `now` (where a start can be now)
 *   --until <when>   where to stop (exclusive), the same forms; default now
 *   --date, --hour   a whole UTC day or hour (results)
 *
 * Pure: "now" is passed in. Every problem is a one-line usage error naming the flag as typed.
 */
import { usageError } from '../errors.js';
import { formatDuration, parseDuration } from './duration.js';

/** A point in time as a user writes it, before "now" is known. */
export type When =
  | { kind: 'ago'; ms: number }
  | { kind: 'at'; ms: number }
  | { kind: 'now' }
  /** The oldest record a stream still keeps (Kinesis TRIM_HORIZON); streams only (peek). */
  | { kind: 'trim-horizon' };

/** A When as given on the command line: the flag and text it came from (for messages). */
export type WhenFlag = When & {
  flag: string;
  text: string;
  /** A command's default rather than something the user typed. */
  implicit?: boolean;
};

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** 31 days of hourly partitions is 744 listings: beyond that, narrow the range. */
export const MAX_RANGE_MS = 31 * DAY_MS;

/** Which forms a flag takes: every flag takes a duration ago; the rest depends on what it means. */
export interface WhenVocabulary {
  /** Accept `now` (default true). A start that is now selects nothing: range starts refuse it. */
  now?: boolean;
  /** Accept `trim-horizon` (the oldest record a stream keeps): stream readers only. */
  positions?: boolean;
  /** Only a duration ago (the old `--last`). */
  durationOnly?: boolean;
}

/**
 * How the forms a flag takes read, in its help and in its error message alike: one text for both,
 * so neither offers a form the flag refuses.
 */
export function whenForms(v: WhenVocabulary = {}, o: { ago?: boolean } = {}): string {
  // Help says "ago" (after the flag's lead); messages keep the words users already match on.
  const forms = [o.ago === true ? 'a duration ago (30m, 2h, 1d)' : 'a duration like 30m, 2h or 1d'];
  if (v.durationOnly !== true) {
    forms.push('a UTC time like 2024-01-15T10:30Z');
    if (v.positions === true) forms.push('trim-horizon (the oldest record kept)');
    if (v.now !== false) forms.push('now');
  }
  if (forms.length === 1) return forms[0] as string;
  // The duration form has its own "or" (30m, 2h or 1d): the last form always follows ", or".
  return `${forms.slice(0, -1).join(', ')}, or ${forms.at(-1)}`;
}

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
    if (z === null || Number(z[2]) > 23 || Number(z[3]) > 59) return undefined;
    const off = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
    ms -= z[1] === '+' ? off : -off;
  }
  return ms;
}

/** Any of the forms, or undefined. `trim-horizon` is returned as such; callers that cannot use it say so. */
export function parseWhen(text: string): When | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'now') return { kind: 'now' };
  if (t === 'trim-horizon') return { kind: 'trim-horizon' };
  const ago = parseDuration(t);
  if (ago !== undefined) return { kind: 'ago', ms: ago };
  const at = parseInstant(text);
  if (at !== undefined) return { kind: 'at', ms: at };
  return undefined;
}

/** The instant a When names, given now. A stream position (trim-horizon) is not an instant. */
export function whenMs(w: WhenFlag, nowMs: number): number {
  switch (w.kind) {
    case 'ago':
      return nowMs - w.ms;
    case 'at':
      return w.ms;
    case 'now':
      return nowMs;
    default:
      throw usageError(`${w.flag} ${w.text}: a stream position is not a time here; give ${whenForms()}`);
  }
}

/** A command's default, as users write it: `implicitWhen('--since', '1h')`. */
export function implicitWhen(flag: string, text: string): WhenFlag {
  const w = parseWhen(text);
  if (w === undefined) throw new Error(`bad default ${flag} ${text}`);
  return { ...w, flag, text, implicit: true };
}

/**
 * One value from a flag and its hidden old spellings (`--since` and `--last`, `--from`, `--at`):
 * at most one may be given; a default (implicit) value yields to any given one.
 */
export function oneOf(...values: ReadonlyArray<WhenFlag | undefined>): WhenFlag | undefined {
  const given = values.filter((v): v is WhenFlag => v !== undefined && v.implicit !== true);
  if (given.length > 1) {
    const [a, b] = given as [WhenFlag, WhenFlag];
    throw usageError(`${a.flag} and ${b.flag} both say where to start; give one of them`);
  }
  return given[0] ?? values.find((v): v is WhenFlag => v !== undefined);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export interface RangeFlags {
  since?: WhenFlag | undefined;
  until?: WhenFlag | undefined;
  date?: string | undefined;
  hour?: number | undefined;
}

export interface RangeOptions {
  /** Length of the range when only its end (or nothing) is given. */
  defaultMs?: number;
  /** The range when no time flag is given at all (e.g. the windows of a --verify summary). */
  fallback?: TimeRange | undefined;
  /**
   * The range flags the command has, for the "too long" hint (default: --since/--until and --date,
   * as `results`); a command without --date must not be told to use it.
   */
  flags?: readonly string[];
}

/** The half-open UTC range [fromMs, toMs) the flags select. */
export function resolveRange(f: RangeFlags, nowMs: number, o: RangeOptions = {}): TimeRange {
  const since = f.since?.implicit === true ? undefined : f.since;
  const until = f.until?.implicit === true ? undefined : f.until;
  const calendar = f.date !== undefined || f.hour !== undefined;
  if (calendar && (since !== undefined || until !== undefined)) {
    const flags = [since?.flag, until?.flag].filter((x) => x !== undefined).join('/');
    throw usageError(`use either --date/--hour or ${flags}, not both`);
  }
  let range: TimeRange;
  if (calendar) {
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
  } else if (since === undefined && until === undefined && o.fallback !== undefined) {
    range = o.fallback;
  } else {
    const toMs = until === undefined ? nowMs : whenMs(until, nowMs);
    // A default start (results' 1h) only applies when no end is given either.
    const start = since ?? (until === undefined ? f.since : undefined);
    const fromMs = start === undefined ? toMs - (o.defaultMs ?? HOUR_MS) : whenMs(start, nowMs);
    if (toMs <= fromMs) {
      if (until === undefined)
        throw usageError(
          `${start?.flag ?? '--since'} ${start?.text ?? ''} (${iso(fromMs)}) is not in the past`,
        );
      throw usageError(
        `${until.flag} (${iso(toMs)}) must be after ${start?.flag ?? 'its start'} (${iso(fromMs)})`,
      );
    }
    range = { fromMs, toMs };
  }
  if (range.toMs - range.fromMs > MAX_RANGE_MS) {
    throw usageError(
      `the range ${iso(range.fromMs)} → ${iso(range.toMs)} is longer than ${formatDuration(MAX_RANGE_MS)}`,
      `narrow it with ${narrowWith(o.flags ?? ['--since', '--until', '--date'])}`,
    );
  }
  return range;
}

/** `['--since', '--until', '--date']` → `--since/--until or --date`. */
function narrowWith(flags: readonly string[]): string {
  const pair = flags.includes('--since') && flags.includes('--until') ? ['--since/--until'] : [];
  const rest = flags.filter((f) => pair.length === 0 || (f !== '--since' && f !== '--until'));
  const all = [...pair, ...rest];
  return all.length <= 1 ? (all[0] ?? '--since') : `${all.slice(0, -1).join(', ')} or ${all.at(-1)}`;
}

/** The start instant of a one-sided selection (logs, dead-letters): never in the future. */
export function resolveSince(since: WhenFlag, nowMs: number): number {
  const ms = whenMs(since, nowMs);
  if (ms > nowMs) throw usageError(`${since.flag} ${since.text} (${iso(ms)}) is in the future`);
  if (nowMs - ms > MAX_RANGE_MS) {
    throw usageError(`${since.flag} ${since.text} is more than ${formatDuration(MAX_RANGE_MS)} ago`);
  }
  return ms;
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
