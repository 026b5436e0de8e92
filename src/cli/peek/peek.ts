/**
 * The `paypipe peek` action: resolve the stream, read it from the asked position across all
 * shards (src/aws/stream-reader.ts), print each record decoded — events and aggregates as one
 * readable line, anything else as text — or as NDJSON with --json. Ctrl-C ends --follow cleanly.
 */
import type { Command } from 'commander';
import { currencyExponent } from '../../domain/currency.js';
import { toMinor } from '../../domain/money.js';
import { usageError } from '../../errors.js';
import type { StreamPosition, StreamRecord } from '../../aws/kinesis.js';
import type { PeekFlags } from './flags.js';
import type { Style } from '../io.js';
import { interruptSignal } from '../interrupt.js';
import { ioFor, pickCount } from '../options.js';
import { formatCount, formatMinorAmount, plural } from '../render/aggregates.js';
import { resolveTarget } from '../target.js';
import { implicitWhen, oneOf, whenMs } from '../../pipeline/time-range.js';

const DEFAULT_SINCE = implicitWhen('--since', '5m');
const DEFAULT_COUNT = 100;

/** The position the flags ask for: --since (or its old spellings --at, --from); default 5m ago. */
export function peekPosition(f: Pick<PeekFlags, 'at' | 'since' | 'from'>, nowMs: number): StreamPosition {
  const since = oneOf(f.since, f.at, f.from) ?? DEFAULT_SINCE;
  if (since.kind === 'trim-horizon') return { type: 'trim-horizon' };
  if (since.kind === 'now') return { type: 'latest' };
  const ms = whenMs(since, nowMs);
  if (ms > nowMs)
    throw usageError(`${since.flag} ${since.text} (${new Date(ms).toISOString()}) is in the future`);
  return { type: 'at-timestamp', timestampMs: ms };
}

export interface DecodedRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  /** ApproximateArrivalTimestamp, ISO. */
  arrival: string;
  /** Parsed JSON, or null when the data is not JSON (see text/base64). */
  data: unknown;
  text?: string;
  base64?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeRecord(r: StreamRecord): DecodedRecord {
  const base = {
    shardId: r.shardId,
    sequenceNumber: r.sequenceNumber,
    partitionKey: r.partitionKey,
    arrival: new Date(r.arrivalMs).toISOString(),
  };
  let text: string;
  try {
    text = utf8.decode(r.data);
  } catch {
    return { ...base, data: null, base64: Buffer.from(r.data).toString('base64') };
  }
  try {
    return { ...base, data: JSON.parse(text) as unknown };
  } catch {
    return { ...base, data: null, text };
  }
}

const money = (amount: unknown, currency: unknown): string => {
  if (typeof amount !== 'number' || typeof currency !== 'string') return String(amount);
  const exp = currencyExponent(currency);
  const m = exp === undefined ? undefined : toMinor(amount, exp, Number.MAX_SAFE_INTEGER);
  return m?.ok === true ? formatMinorAmount(m.minor, currency) : String(amount);
};

const clock = (iso: string): string => iso.slice(11, 23);
const shortShard = (id: string): string => id.replace(/^shardId-0*(\d)/, 'shard-$1');

/** One human line: `10:30:01.123 shard-1  TXN1234567  125.50 USD  Amazon  (event 10:30:00.000)`. */
export function renderRecordLine(d: DecodedRecord, style: Style): string {
  const head = `${style.dim(clock(d.arrival))} ${style.cyan(shortShard(d.shardId))}`;
  const o = d.data as Record<string, unknown> | null;
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    if (typeof o.transaction_id === 'string' && 'amount' in o) {
      const ts =
        typeof o.event_timestamp === 'number' && Number.isFinite(o.event_timestamp)
          ? new Date(o.event_timestamp)
          : undefined;
      const when =
        ts !== undefined && !Number.isNaN(ts.getTime()) ? ts.toISOString() : String(o.event_timestamp);
      return `${head}  ${o.transaction_id}  ${style.bold(money(o.amount, o.currency))} ${String(o.currency)}  ${String(o.merchant)}  ${style.dim(`event ${when.length === 24 ? clock(when) : when}`)}`;
    }
    if (o.schema_version === 2 && Array.isArray(o.aggregates)) {
      // A batch output: its range, then one short cell per (window, currency).
      const cells = (o.aggregates as Array<Record<string, unknown>>)
        .map(
          (a) =>
            `${String(a.window_start).slice(11, 16)} ${String(a.currency)} ${formatCount(Number(a.transaction_count))}× ${money(a.total_amount, a.currency)}`,
        )
        .join(', ');
      return `${head}  batch ${shortShard(String(o.shard_id))} …${String(o.first_sequence_number).slice(-6)}..…${String(o.last_sequence_number).slice(-6)} (${String(o.records)} records, part ${String(o.part)}/${String(o.parts)})  ${cells === '' ? style.dim('no valid records') : cells}`;
    }
    if (typeof o.window_start === 'string' && typeof o.transaction_count === 'number') {
      return `${head}  window ${o.window_start.slice(11, 16)} ${String(o.currency)}  count ${formatCount(o.transaction_count)}  total ${style.bold(money(o.total_amount, o.currency))}  avg ${money(o.avg_amount, o.currency)}  min ${money(o.min_amount, o.currency)}  max ${money(o.max_amount, o.currency)}`;
    }
    return `${head}  ${JSON.stringify(o)}`;
  }
  if (d.data !== null) return `${head}  ${JSON.stringify(d.data)}`;
  if (d.text !== undefined)
    return `${head}  ${style.yellow('(not JSON)')} ${printable(d.text.length > 200 ? `${d.text.slice(0, 200)}…` : d.text)}`;
  return `${head}  ${style.yellow('(binary)')} ${d.base64 ?? ''}`;
}

export async function peekCommand(flags: PeekFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const position = peekPosition(flags, Date.now());
  const count = pickCount(flags);
  const which = flags.stream;
  const target = await resolveTarget(flags, {
    overrides: which === 'input' || which === 'output' ? {} : { inputStream: which },
    need: [which === 'output' ? 'outputStream' : 'inputStream'],
  });
  const streamName = which === 'output' ? target.names.outputStream : target.names.inputStream;
  const limit = count ?? (flags.follow === true ? undefined : DEFAULT_COUNT);
  const { kinesisClient } = await import('../../aws/clients.js');
  const { readStream } = await import('../../aws/kinesis.js');
  const client = await kinesisClient(target.clientTarget);
  const interrupt = interruptSignal();
  const label =
    position.type === 'at-timestamp'
      ? `from ${new Date(position.timestampMs).toISOString()}`
      : `from ${position.type}`;
  io.info(`reading ${streamName} ${label}${flags.follow === true ? ' (following; Ctrl-C stops)' : ''}`);
  let n = 0;
  const shards = new Set<string>();
  try {
    for await (const r of readStream(client, streamName, {
      position,
      follow: flags.follow === true,
      signal: interrupt.signal,
      emulateAtTimestamp: target.kind === 'local',
      idlePollMs: target.kind === 'local' ? 250 : 1000,
      minIntervalMs: target.kind === 'local' ? 0 : 200,
    })) {
      const d = decodeRecord(r);
      io.line(d, renderRecordLine(d, io.style));
      shards.add(r.shardId);
      if (limit !== undefined && ++n >= limit) break;
      if (limit === undefined) n++;
    }
  } finally {
    interrupt.dispose();
    client.destroy();
  }
  const more = limit !== undefined && n >= limit ? ` (stopped at --count ${formatCount(limit)})` : '';
  io.info(io.errStyle.dim(`${plural(n, 'record')} from ${plural(shards.size, 'shard')}${more}`));
}

/** Record data is untrusted: control characters (ESC sequences, BEL, …) are shown escaped, never sent to the terminal. */
const printable = (t: string): string =>
  t.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
