/**
 * Reading the functions' logs: parsing one CloudWatch-like event (the handlers' JSON lines, Lambda's
 * platform lines START/END/REPORT in text or JSON log format, plain text), the minimum-level filter,
 * the local subset of CloudWatch filter-pattern syntax, and the one-line human rendering.
 *
 * The same events come from CloudWatch Logs (AWS) and from the local pipeline's
 * `<dataDir>/logs/<fn>.ndjson`, so one parser and one renderer serve both.
 *
 * Pure: no clock, no env; "now" is passed in where it matters.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Maps the level spellings seen in Lambda/Powertools/console logs onto our four levels. */
export function normalizeLevel(value: unknown): LogLevel | undefined {
  if (typeof value !== 'string') return undefined;
  switch (value.trim().toUpperCase()) {
    case 'TRACE':
    case 'DEBUG':
      return 'debug';
    case 'INFO':
    case 'NOTICE':
      return 'info';
    case 'WARN':
    case 'WARNING':
      return 'warn';
    case 'ERROR':
    case 'CRITICAL':
    case 'FATAL':
      return 'error';
    default:
      return undefined;
  }
}

export const levelAtLeast = (level: LogLevel, min: LogLevel): boolean => RANK[level] >= RANK[min];

/** One log event as CloudWatch (FilterLogEvents / live tail) and the local log files both give it. */
export interface LogEvent {
  /** Which function wrote it: `producer` or `aggregator`. */
  function: string;
  /** Epoch ms. */
  timestamp: number;
  /** The line the function (or the Lambda platform) printed. */
  message: string;
  logStreamName?: string | undefined;
  eventId?: string | undefined;
  ingestionTime?: number | undefined;
}

/** Merge order of events from several groups or files: by time (stable, so one source stays in order). */
export const byTime = (a: LogEvent, b: LogEvent): number => a.timestamp - b.timestamp;

export type PlatformType = 'START' | 'END' | 'REPORT' | 'INIT_START';

export type ParsedLog =
  | {
      kind: 'app';
      level: LogLevel;
      message: string;
      requestId?: string | undefined;
      /** Every field of the JSON line except the envelope (level, message, timestamp, service...). */
      fields: Record<string, unknown>;
    }
  | {
      kind: 'platform';
      type: PlatformType;
      requestId?: string | undefined;
      durationMs?: number | undefined;
      billedMs?: number | undefined;
      memoryMB?: number | undefined;
      maxMemoryMB?: number | undefined;
      initMs?: number | undefined;
      /** REPORT's `Status:` (e.g. timeout, error) when the invocation did not succeed. */
      status?: string | undefined;
    }
  | { kind: 'text'; level: LogLevel; message: string; requestId?: string | undefined };

/**
 * Envelope keys of the handlers' logger and of Lambda's JSON log format: shown as the line's
 * time/function/level/message, never again as fields.
 */
const ENVELOPE = new Set([
  'level',
  'message',
  'msg',
  'timestamp',
  'time',
  'service',
  'function_name',
  'function_request_id',
  'function_arn',
  'function_memory_size',
  'cold_start',
  'xray_trace_id',
  'sampling_rate',
  'requestId',
  'request_id',
]);

/** Node's text log format: `<ISO time>\t<request id>\t<LEVEL>\t<message>`. */
const TEXT_PREFIX = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\t(\S+)\t([A-Z]+)\t([\s\S]*)$/;
const START = /^START RequestId: (\S+)/;
const END = /^END RequestId: (\S+)/;
const REPORT = /^REPORT RequestId: (\S+)/;
const INIT_START = /^INIT_START\b/;

const num = (text: string, label: string): number | undefined => {
  const m = new RegExp(`${label}: ([\\d.]+)`).exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const parseJsonObject = (text: string): Record<string, unknown> | undefined => {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
};

const optNum = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const optStr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Lambda's JSON log format platform events (`{"type":"platform.report","record":{...}}`). */
function parseJsonPlatform(o: Record<string, unknown>): ParsedLog | undefined {
  const type = o.type;
  if (typeof type !== 'string' || !type.startsWith('platform.')) return undefined;
  const record = isRecord(o.record) ? o.record : {};
  const metrics = isRecord(record.metrics) ? record.metrics : {};
  const requestId = optStr(record.requestId);
  switch (type) {
    case 'platform.start':
      return { kind: 'platform', type: 'START', requestId };
    case 'platform.runtimeDone':
    case 'platform.end':
      return { kind: 'platform', type: 'END', requestId };
    case 'platform.initStart':
      return { kind: 'platform', type: 'INIT_START' };
    case 'platform.report': {
      const status = optStr(record.status);
      return {
        kind: 'platform',
        type: 'REPORT',
        requestId,
        durationMs: optNum(metrics.durationMs),
        billedMs: optNum(metrics.billedDurationMs),
        memoryMB: optNum(metrics.memorySizeMB),
        maxMemoryMB: optNum(metrics.maxMemoryUsedMB),
        initMs: optNum(metrics.initDurationMs),
        status: status === undefined || status === 'success' ? undefined : status,
      };
    }
    default:
      return undefined;
  }
}

function appFromObject(
  o: Record<string, unknown>,
  fallbackLevel: LogLevel,
  requestId?: string,
): ParsedLog | undefined {
  const message = o.message ?? o.msg;
  const level = normalizeLevel(o.level);
  // Only lines that look like a structured logger's output; any other JSON stays text.
  if (level === undefined && message === undefined) return undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!ENVELOPE.has(k)) fields[k] = v;
  return {
    kind: 'app',
    level: level ?? fallbackLevel,
    message: typeof message === 'string' ? message : message === undefined ? '' : JSON.stringify(message),
    requestId: optStr(o.function_request_id) ?? optStr(o.requestId) ?? optStr(o.request_id) ?? requestId,
    fields,
  };
}

/** Classifies one printed line. Never throws: anything unrecognised is a text line. */
export function parseLogMessage(raw: string): ParsedLog {
  const message = raw.replace(/\r?\n$/, '');
  const head = message.trimStart();
  let m = START.exec(head);
  if (m) return { kind: 'platform', type: 'START', requestId: m[1] };
  m = END.exec(head);
  if (m) return { kind: 'platform', type: 'END', requestId: m[1] };
  m = REPORT.exec(head);
  if (m) {
    const status = /Status: (\w+)/.exec(head)?.[1];
    return {
      kind: 'platform',
      type: 'REPORT',
      requestId: m[1],
      durationMs: num(head, 'Duration'),
      billedMs: num(head, 'Billed Duration'),
      memoryMB: num(head, 'Memory Size'),
      maxMemoryMB: num(head, 'Max Memory Used'),
      initMs: num(head, 'Init Duration'),
      status: status === undefined || status === 'success' ? undefined : status,
    };
  }
  if (INIT_START.test(head)) return { kind: 'platform', type: 'INIT_START' };

  const text = TEXT_PREFIX.exec(message);
  if (text) {
    const requestId = text[2];
    const level = normalizeLevel(text[3]) ?? 'info';
    const body = text[4] ?? '';
    const o = parseJsonObject(body);
    const app = o === undefined ? undefined : appFromObject(o, level, requestId);
    return app ?? { kind: 'text', level, message: body, requestId };
  }

  const o = parseJsonObject(message);
  if (o !== undefined) {
    const platform = parseJsonPlatform(o);
    if (platform !== undefined) return platform;
    const app = appFromObject(o, 'info');
    if (app !== undefined) return app;
  }
  // Lambda's own error lines ("Task timed out after 60.06 seconds") carry no level.
  const level: LogLevel = /Task timed out|Runtime\.\w+Error|^\s*Error:/.test(message) ? 'error' : 'info';
  return { kind: 'text', level, message };
}

/** The level an event counts as for `--level`; platform lines have none and are kept only at info. */
export function eventLevel(parsed: ParsedLog): LogLevel {
  if (parsed.kind === 'platform') return parsed.status === undefined ? 'info' : 'error';
  return parsed.level;
}

export interface EventFilter {
  /** Minimum level (inclusive). */
  minLevel?: LogLevel | undefined;
  /** Hide START/END/REPORT/INIT_START. */
  hidePlatform?: boolean | undefined;
  /** Compiled `--filter` (local only: on AWS CloudWatch applies the pattern). */
  pattern?: ((message: string) => boolean) | undefined;
}

export function keepEvent(message: string, parsed: ParsedLog, f: EventFilter): boolean {
  if (f.hidePlatform === true && parsed.kind === 'platform') return false;
  if (f.minLevel !== undefined && !levelAtLeast(eventLevel(parsed), f.minLevel)) return false;
  if (f.pattern !== undefined && !f.pattern(message)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Filter patterns (the local subset of CloudWatch's syntax)

export class LogFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogFilterError';
  }
}

/**
 * Compiles a CloudWatch Logs filter pattern into a predicate over the printed line. Supported:
 * - terms: `ERROR timeout` (all terms), `"exact phrase"`, `-term` (excluded), `?a ?b` (any of);
 *   case-sensitive like CloudWatch;
 * - `%regex%`;
 * - JSON: `{ $.level = "ERROR" }`, `{ $.records_in > 100 && $.shard = "shardId-000000000000" }`,
 *   operators = != > < >= <=, `&&`, `||`, parentheses, `*` wildcards in strings, `IS NULL`,
 *   `IS TRUE`/`IS FALSE`, `EXISTS`/`NOT EXISTS`, `$.a.b` and `$.list[0]` selectors.
 * Space-delimited patterns (`[ip, user, ...]`) are not supported locally.
 */
export function compileFilterPattern(pattern: string): (message: string) => boolean {
  const p = pattern.trim();
  if (p === '' || p === '""') return () => true;
  if (p.startsWith('{')) {
    if (!p.endsWith('}')) throw new LogFilterError(`filter pattern "${pattern}" has no closing "}"`);
    const expr = new JsonPatternParser(p.slice(1, -1)).parse();
    return (message) => {
      const body = TEXT_PREFIX.exec(message)?.[4] ?? message;
      const o = parseJsonObject(body);
      return o !== undefined && expr(o);
    };
  }
  if (p.startsWith('[')) {
    throw new LogFilterError(
      `space-delimited filter patterns like "${pattern}" are not supported locally; use terms, "phrases", %regex% or { $.field = value }`,
    );
  }
  if (p.length > 1 && p.startsWith('%') && p.endsWith('%')) {
    const re = regex(p.slice(1, -1), pattern);
    return (message) => re.test(message);
  }
  return termMatcher(p);
}

const regex = (source: string, pattern: string): RegExp => {
  try {
    return new RegExp(source);
  } catch {
    throw new LogFilterError(`filter pattern "${pattern}" has an invalid regular expression`);
  }
};

function termMatcher(p: string): (message: string) => boolean {
  const all: string[] = [];
  const any: string[] = [];
  const none: string[] = [];
  const re = /([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))/g;
  for (let m = re.exec(p); m !== null; m = re.exec(p)) {
    const term = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    if (term === '') continue;
    if (m[1] === '?') any.push(term);
    else if (m[1] === '-') none.push(term);
    else all.push(term);
  }
  return (message) =>
    all.every((t) => message.includes(t)) &&
    (any.length === 0 || any.some((t) => message.includes(t))) &&
    !none.some((t) => message.includes(t));
}

type Json = Record<string, unknown>;
type Predicate = (o: Json) => boolean;
type Token = { t: 'op' | 'sel' | 'str' | 'num' | 'word' | 're' | '(' | ')' | '&&' | '||'; v: string };

class JsonPatternParser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(private readonly src: string) {
    this.tokens = this.lex();
  }

  private fail(what: string): never {
    throw new LogFilterError(`filter pattern "{${this.src}}": ${what}`);
  }

  private lex(): Token[] {
    const out: Token[] = [];
    const s = this.src;
    let i = 0;
    while (i < s.length) {
      const c = s[i] as string;
      if (/\s/.test(c)) {
        i++;
      } else if (s.startsWith('&&', i) || s.startsWith('||', i)) {
        out.push({ t: s.slice(i, i + 2) as '&&' | '||', v: s.slice(i, i + 2) });
        i += 2;
      } else if (c === '(' || c === ')') {
        out.push({ t: c, v: c });
        i++;
      } else if (/[=!<>]/.test(c)) {
        const op = /^(!=|>=|<=|=|>|<)/.exec(s.slice(i))?.[1];
        if (op === undefined) this.fail(`unexpected "${c}"`);
        out.push({ t: 'op', v: op });
        i += op.length;
      } else if (c === '"') {
        let j = i + 1;
        let v = '';
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          v += s[j];
          j++;
        }
        if (j >= s.length) this.fail('unterminated string');
        out.push({ t: 'str', v });
        i = j + 1;
      } else if (c === '%') {
        const j = s.indexOf('%', i + 1);
        if (j < 0) this.fail('unterminated %regex%');
        out.push({ t: 're', v: s.slice(i + 1, j) });
        i = j + 1;
      } else if (c === '$') {
        const m = /^\$(?:\.[A-Za-z_@][\w@-]*|\[\d+\])*/.exec(s.slice(i));
        const sel = m?.[0] ?? '$';
        out.push({ t: 'sel', v: sel });
        i += sel.length;
      } else {
        const m = /^[^\s()=!<>&|"]+/.exec(s.slice(i));
        const w = m?.[0];
        if (w === undefined) this.fail(`unexpected "${c}"`);
        out.push({ t: /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(w) ? 'num' : 'word', v: w });
        i += w.length;
      }
    }
    return out;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private next(): Token {
    const t = this.tokens[this.i++];
    if (t === undefined) this.fail('ends too early');
    return t;
  }

  parse(): Predicate {
    if (this.tokens.length === 0) this.fail('is empty');
    const e = this.or();
    if (this.peek() !== undefined) this.fail(`unexpected "${this.peek()?.v}"`);
    return e;
  }

  private or(): Predicate {
    const parts = [this.and()];
    while (this.peek()?.t === '||') {
      this.i++;
      parts.push(this.and());
    }
    return parts.length === 1 ? (parts[0] as Predicate) : (o) => parts.some((p) => p(o));
  }

  private and(): Predicate {
    const parts = [this.unary()];
    while (this.peek()?.t === '&&') {
      this.i++;
      parts.push(this.unary());
    }
    return parts.length === 1 ? (parts[0] as Predicate) : (o) => parts.every((p) => p(o));
  }

  private unary(): Predicate {
    const t = this.next();
    if (t.t === '(') {
      const e = this.or();
      if (this.next().t !== ')') this.fail('missing ")"');
      return e;
    }
    if (t.t !== 'sel') this.fail(`expected a selector like $.level, got "${t.v}"`);
    const get = selector(t.v);
    const op = this.next();
    if (op.t === 'word') {
      const w = op.v.toUpperCase();
      if (w === 'EXISTS') return (o) => get(o) !== undefined;
      if (w === 'NOT') {
        if (this.next().v.toUpperCase() !== 'EXISTS') this.fail('expected NOT EXISTS');
        return (o) => get(o) === undefined;
      }
      if (w === 'IS') {
        const what = this.next().v.toUpperCase();
        if (what === 'NULL') return (o) => get(o) === null;
        if (what === 'TRUE') return (o) => get(o) === true;
        if (what === 'FALSE') return (o) => get(o) === false;
        this.fail('expected IS NULL, IS TRUE or IS FALSE');
      }
    }
    if (op.t !== 'op') this.fail(`expected an operator after ${t.v}, got "${op.v}"`);
    const value = this.next();
    return comparison(get, op.v, value, (m) => this.fail(m));
  }
}

function selector(sel: string): (o: Json) => unknown {
  const steps: Array<string | number> = [];
  const re = /\.([A-Za-z_@][\w@-]*)|\[(\d+)\]/g;
  for (let m = re.exec(sel); m !== null; m = re.exec(sel)) {
    steps.push(m[1] !== undefined ? m[1] : Number(m[2]));
  }
  return (o) => {
    let cur: unknown = o;
    for (const s of steps) {
      if (typeof s === 'number') cur = Array.isArray(cur) ? cur[s] : undefined;
      else cur = isRecord(cur) ? cur[s] : undefined;
      if (cur === undefined) return undefined;
    }
    return cur;
  };
}

const wildcard = (v: string): RegExp =>
  new RegExp(`^${v.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);

function comparison(
  get: (o: Json) => unknown,
  op: string,
  value: Token,
  fail: (m: string) => never,
): Predicate {
  if (value.t === 'num') {
    const n = Number(value.v);
    const cmp: Record<string, (a: number) => boolean> = {
      '=': (a) => a === n,
      '!=': (a) => a !== n,
      '>': (a) => a > n,
      '<': (a) => a < n,
      '>=': (a) => a >= n,
      '<=': (a) => a <= n,
    };
    const f = cmp[op] as (a: number) => boolean;
    return (o) => {
      const a = get(o);
      return typeof a === 'number' && f(a);
    };
  }
  if (value.t !== 'str' && value.t !== 'word' && value.t !== 're') fail(`expected a value after ${op}`);
  if (op !== '=' && op !== '!=') fail(`${op} needs a number, got "${value.v}"`);
  const re = value.t === 're' ? regex(value.v, value.v) : wildcard(value.v);
  const eq = (o: Json): boolean => {
    const a = get(o);
    if (a === undefined || a === null || typeof a === 'object') return false;
    return re.test(String(a));
  };
  return op === '=' ? eq : (o) => get(o) !== undefined && !eq(o);
}

// ---------------------------------------------------------------------------------------------
// Human rendering

/** The colours the renderer uses; the CLI's `Style` satisfies this (plain on a non-TTY). */
export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export interface RenderOptions {
  /** Prefix the time with the UTC date (for ranges longer than a day). */
  date?: boolean | undefined;
}

/** Fields shown first, in this order, when present; the rest follow in the order logged. */
const KEY_FIELDS = [
  'records_in',
  'valid',
  'rejected',
  'rejected_by_reason',
  'aggregates_out',
  'events_out',
  'count',
  'windows',
  'shard',
  'duration_ms',
];

const MAX_VALUE = 120;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `10:30:05.123` (UTC), or `2024-01-15 10:30:05.123` with `date`. */
export function formatTime(ms: number, date = false): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '??:??:??.???';
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
  return date ? `${d.toISOString().slice(0, 10)} ${time}` : time;
}

const ISO = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::(\d\d)(?:\.(\d+))?)?Z$/;

/** Window boundaries like 2024-01-15T10:30:00.000Z read as `10:30` on the event's own day. */
function shortIso(s: string, eventMs: number): string {
  const m = ISO.exec(s);
  if (!m) return s;
  const sameDay = new Date(eventMs).toISOString().slice(0, 10) === m[1];
  const secs = m[3] === undefined || (m[3] === '00' && /^0*$/.test(m[4] ?? '')) ? '' : `:${m[3]}`;
  return `${sameDay ? '' : `${m[1]} `}${m[2]}${secs}`;
}

const clip = (s: string): string => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s);

function renderValue(v: unknown, eventMs: number): string {
  if (typeof v === 'string') {
    const s = shortIso(v, eventMs);
    return clip(/[\s="]/.test(s) || s === '' ? JSON.stringify(s) : s);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    const shown = v.slice(0, 6).map((x) => renderValue(x, eventMs));
    return clip(`[${shown.join(',')}${v.length > 6 ? `,… +${v.length - 6}` : ''}]`);
  }
  if (isRecord(v)) {
    // Errors as logged by Powertools-like loggers: { name, message, stack, location }.
    if (typeof v.message === 'string' && (typeof v.name === 'string' || typeof v.stack === 'string')) {
      return clip(JSON.stringify(`${typeof v.name === 'string' ? `${v.name}: ` : ''}${v.message}`));
    }
    const entries = Object.entries(v);
    if (entries.length === 0) return '{}';
    if (entries.every(([, x]) => typeof x !== 'object' || x === null)) {
      return clip(entries.map(([k, x]) => `${k}:${renderValue(x, eventMs)}`).join(','));
    }
    return clip(JSON.stringify(v));
  }
  return clip(String(v));
}

/** `key=value` pairs, key fields first. */
export function renderFields(fields: Record<string, unknown>, eventMs: number, paint: Paint): string {
  const keys = Object.keys(fields);
  const ordered = [...KEY_FIELDS.filter((k) => k in fields), ...keys.filter((k) => !KEY_FIELDS.includes(k))];
  return ordered
    .filter((k) => fields[k] !== undefined)
    .map((k) => `${paint.dim(`${k}=`)}${renderValue(fields[k], eventMs)}`)
    .join(' ');
}

const LEVEL_LABEL: Record<LogLevel, string> = {
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
};

function paintLevel(level: LogLevel, paint: Paint): string {
  const label = LEVEL_LABEL[level];
  switch (level) {
    case 'error':
      return paint.bold(paint.red(label));
    case 'warn':
      return paint.yellow(label);
    case 'info':
      return paint.green(label);
    default:
      return paint.dim(label);
  }
}

const FN_WIDTH = 10;

const shortId = (id: string | undefined): string => (id === undefined ? '' : id.slice(0, 8));

const ms = (n: number | undefined): string =>
  n === undefined ? '?' : `${Number.isInteger(n) ? n : n.toFixed(n < 10 ? 2 : 0)} ms`;

/**
 * One human line for an event, or undefined for platform lines folded away (START, END and
 * INIT_START: the REPORT line carries the invocation's duration and memory).
 */
export function renderEvent(
  event: LogEvent,
  parsed: ParsedLog,
  paint: Paint,
  o: RenderOptions = {},
): string | undefined {
  const head = `${paint.dim(formatTime(event.timestamp, o.date === true))} ${paint.cyan(event.function.padEnd(FN_WIDTH))}`;
  switch (parsed.kind) {
    case 'app': {
      const fields = renderFields(parsed.fields, event.timestamp, paint);
      const msg = parsed.level === 'error' ? paint.bold(parsed.message) : parsed.message;
      return `${head} ${paintLevel(parsed.level, paint)} ${msg}${fields === '' ? '' : `  ${fields}`}`;
    }
    case 'text':
      return `${head} ${paintLevel(parsed.level, paint)} ${parsed.message.replace(/\s+$/, '').replaceAll('\n', '\n    ')}`;
    case 'platform': {
      if (parsed.type !== 'REPORT') return undefined;
      const parts = [
        `${ms(parsed.durationMs)}${parsed.billedMs === undefined ? '' : ` (billed ${ms(parsed.billedMs)})`}`,
      ];
      if (parsed.maxMemoryMB !== undefined || parsed.memoryMB !== undefined) {
        parts.push(`mem ${parsed.maxMemoryMB ?? '?'}/${parsed.memoryMB ?? '?'} MB`);
      }
      if (parsed.initMs !== undefined) parts.push(`cold start ${ms(parsed.initMs)}`);
      const line = `${paint.dim('REPORT')} ${paint.dim(`${shortId(parsed.requestId)} ${parts.join(' · ')}`)}`;
      const status = parsed.status === undefined ? '' : ` ${paint.bold(paint.red(parsed.status))}`;
      return `${head} ${line}${status}`;
    }
  }
}
