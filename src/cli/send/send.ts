/**
 * The `paypipe send` action: resolve the target, size the pacing from the stream (per-shard
 * limits on provisioned AWS streams), run the send with a live progress line, print the summary,
 * and never lose an event silently: anything still unsent is written to a file that
 * `--from-file` can resend, and the command exits 1.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { KinesisClient } from '../../aws/kinesis.js';
import type { LambdaClient } from '../../aws/lambda.js';
import { currencyExponent } from '../../domain/currency.js';
import { toMinor } from '../../domain/money.js';
import { PaypipeError, usageError } from '../../errors.js';
import type { SendFlags } from './flags.js';
import type { Io, Style } from '../io.js';
import { interruptSignal } from '../interrupt.js';
import { DEFAULT_DATA_DIR, ioFor } from '../options.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import { formatCount, formatMinorAmount, plural, renderColumns } from '../render/aggregates.js';
import { parseScenario } from '../scenario.js';
import {
  fileItems,
  generatedItems,
  runSend,
  type SendItem,
  type SendRunProgress,
  type SendRunResult,
} from './send-run.js';
import {
  parseExactTotal,
  renderTotals,
  renderWindowTotals,
  SUMMARY_KIND,
  type SendSummaryDoc,
} from '../../pipeline/send-summary.js';

/** Per-shard write limits of a provisioned stream. */
export const SHARD_RECORDS_PER_SECOND = 1000;
export const SHARD_BYTES_PER_SECOND = 1024 * 1024;
/** Pace a little under the limit: partition keys never hash perfectly evenly over the shards. */
const SHARD_HEADROOM = 0.95;

export interface StreamCapacity {
  mode: 'PROVISIONED' | 'ON_DEMAND';
  openShards: number;
}

export async function describeCapacity(client: KinesisClient, streamName: string): Promise<StreamCapacity> {
  const { describeStreamSummary, missingStream, streamError } = await import('../../aws/kinesis.js');
  let d: Awaited<ReturnType<typeof describeStreamSummary>>;
  try {
    d = await describeStreamSummary(client, streamName);
  } catch (e) {
    throw streamError(e, streamName, 'DescribeStreamSummary');
  }
  if (d === undefined) throw missingStream(streamName, 'DescribeStreamSummary');
  return { mode: d.mode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED', openShards: d.openShards ?? 1 };
}

/** Checks flag combinations that commander cannot express. */
export function checkSendFlags(f: SendFlags): void {
  if (f.count !== undefined && f.duration !== undefined) {
    throw usageError('use either --count or --duration, not both');
  }
  if (f.fromFile !== undefined && (f.seed !== undefined || f.scenario !== undefined)) {
    throw usageError('--from-file replays a file as it is; it cannot be combined with --seed or --scenario');
  }
  if (f.allowInvalid === true && f.fromFile === undefined) {
    throw usageError(
      '--allow-invalid goes with --from-file (generated bad records come from --scenario malformed=…)',
    );
  }
  if (f.viaLambda === true) {
    for (const [flag, v] of [
      ['--duration', f.duration],
      ['--rate', f.rate],
      ['--from-file', f.fromFile],
      ['--scenario', f.scenario],
      ['--stream', f.stream],
    ] as const) {
      if (v !== undefined)
        throw usageError(
          `--via-lambda cannot be combined with ${flag} (the producer Lambda generates and sends)`,
        );
    }
    if (f.local === true) {
      throw usageError(
        '--via-lambda invokes the deployed producer Lambda on AWS; it cannot be used with --local',
        'drop --via-lambda: `paypipe send --local` uses the same generator as the producer',
      );
    }
  }
  if (f.scenario !== undefined) parseScenario(f.scenario);
}

const ms = (x: number): string => (x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);

/** `[██████░░░░] 61%  61,000/100,000  12,034/s  retries 12  ETA 3 s`. */
export function progressLine(
  p: SendRunProgress,
  total: { count?: number | undefined; durationMs?: number | undefined },
): string {
  const rate = p.elapsedMs > 0 ? (p.sent / p.elapsedMs) * 1000 : 0;
  let frac: number | undefined;
  let eta: number | undefined;
  if (total.count !== undefined) {
    frac = p.sent / total.count;
    if (rate > 0) eta = ((total.count - p.sent) / rate) * 1000;
  } else if (total.durationMs !== undefined) {
    frac = p.elapsedMs / total.durationMs;
    eta = Math.max(0, total.durationMs - p.elapsedMs);
  }
  const parts: string[] = [];
  if (frac !== undefined) {
    const f = Math.max(0, Math.min(1, frac));
    const w = 20;
    const n = Math.round(f * w);
    parts.push(`[${'█'.repeat(n)}${'░'.repeat(w - n)}] ${String(Math.floor(f * 100)).padStart(3)}%`);
  }
  parts.push(
    total.count !== undefined
      ? `${formatCount(p.sent)}/${formatCount(total.count)} sent`
      : `${formatCount(p.sent)} sent`,
  );
  parts.push(`${formatCount(Math.round(rate))}/s`);
  parts.push(`retries ${formatCount(p.retried)}`);
  if (p.throttled > 0) parts.push(`throttled ${formatCount(p.throttled)}`);
  if (p.failed > 0) parts.push(`failed ${formatCount(p.failed)}`);
  if (eta !== undefined) parts.push(`ETA ${ms(eta)}`);
  return parts.join('  ');
}

/**
 * Where unsent records go unless --unsent-file says: the data directory (`.paypipe/unsent/`, or
 * --data-dir), never the current directory, so they are found next to the rest of the state.
 */
export function defaultUnsentFile(dataDir: string | undefined, at: Date): string {
  return resolve(join(dataDir ?? DEFAULT_DATA_DIR, 'unsent', `paypipe-unsent-${stamp(at)}.ndjson`));
}

/** Writes the unsent records (one per line, as sent) and returns the file's absolute path. */
export async function writeUnsent(file: string, failed: SendRunResult['failedRecords']): Promise<string> {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  const out = createWriteStream(path, { flags: 'wx' });
  await new Promise<void>((res, rej) => {
    out.once('error', rej);
    out.once('open', () => res());
  });
  for (const f of failed) {
    if (!out.write(`${Buffer.from(f.record.data).toString('utf8')}\n`)) {
      await new Promise<void>((r) => out.once('drain', r));
    }
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return path;
}

const stamp = (d: Date): string => d.toISOString().replace(/[:.]/g, '-');

export function renderSummary(s: SendSummaryDoc, style: Style): string {
  const lines: string[] = [];
  const src =
    s.source.type === 'generated'
      ? `seed ${s.source.seed}${s.source.scenario === null ? '' : `, scenario ${s.source.scenario}`}`
      : s.source.type === 'file'
        ? `from ${s.source.path}`
        : `via Lambda ${s.source.function}`;
  const head = `${s.failed > 0 ? style.red('✗') : style.green('✓')} sent ${plural(s.sent, 'event')} to ${s.stream} (${s.target}, ${src})`;
  lines.push(head);
  const facts = [
    `${ms(s.durationMs)}`,
    `${formatCount(Math.round(s.throughput))} events/s`,
    `${formatCount(s.requests)} PutRecords`,
    `retried ${formatCount(s.retried)}`,
    `failed ${formatCount(s.failed)}`,
  ];
  if (s.throttled > 0) facts.push(`throttled ${formatCount(s.throttled)}`);
  if (s.pacedRate !== null) facts.push(`paced at ${formatCount(Math.round(s.pacedRate * 10) / 10)}/s`);
  if (s.invalid > 0) {
    facts.push(
      s.source.type === 'generated'
        ? `${formatCount(s.invalid)} invalid on purpose`
        : `${formatCount(s.invalid)} not valid events (sent as they are)`,
    );
  }
  lines.push(`  ${facts.join(' · ')}`);
  const rows = Object.entries(s.byCurrency).map(([c, t]) => {
    const minor = parseExactTotal(t.total, c);
    return [c, formatCount(t.count), minor === undefined ? t.total : formatMinorAmount(minor, c)];
  });
  if (rows.length > 0) {
    lines.push('');
    lines.push(renderColumns(['currency', 'events', 'total'], rows, ['l', 'r', 'r'], style));
  }
  if (s.eventTime !== null) lines.push('', style.dim(`event time ${s.eventTime.from} → ${s.eventTime.to}`));
  if (s.unsentFile !== null) {
    lines.push('', style.red(`${plural(s.failed, 'event')} unsent, written to ${s.unsentFile}`));
    lines.push(style.dim(`resend them with \`paypipe send --from-file ${s.unsentFile}\``));
  }
  return lines.join('\n');
}

/**
 * Said after every send: the aggregates are not in S3 yet. Firehose holds them for up to its buffer
 * interval (60 s by default, on AWS and in `paypipe up`), and a results run before that is short.
 */
export function deliveryNote(
  target: Pick<ResolvedTarget, 'kind' | 'config'>,
  oldestEvent: string | null = null,
  nowMs: number = Date.now(),
): string {
  const buffer = target.config.firehose.analytics.bufferIntervalSeconds;
  const quicker =
    target.kind === 'local' && buffer > 5 ? '; `paypipe up --buffer-interval 1` delivers within seconds' : '';
  return `new aggregates take up to the Firehose buffer interval (${buffer} s) to appear in S3${quicker}: \`paypipe results --since ${sinceCovering(oldestEvent, nowMs)}\``;
}

/**
 * A `--since` that reaches the oldest event sent (a `late` scenario spreads event times back by
 * half an hour: `--since 10m` would leave most of them out), never less than 10m.
 */
export function sinceCovering(oldestEvent: string | null, nowMs: number): string {
  const oldestMs = oldestEvent === null ? Number.NaN : Date.parse(oldestEvent);
  const minutes = Number.isFinite(oldestMs) ? Math.ceil((nowMs - oldestMs) / 60_000) + 1 : 0;
  if (minutes <= 10) return '10m';
  return minutes <= 120 ? `${minutes}m` : `${Math.ceil(minutes / 60)}h`;
}

export async function sendCommand(flags: SendFlags, cmd: Command): Promise<void> {
  checkSendFlags(flags);
  const io = ioFor(cmd);
  if (flags.viaLambda === true) return sendViaLambda(flags, io);
  const target = await resolveTarget(flags, {
    overrides: { inputStream: flags.stream },
    need: ['inputStream'],
  });
  const streamName = target.names.inputStream;
  const { kinesisClient } = await import('../../aws/clients.js');
  const client = await kinesisClient(target.clientTarget);
  try {
    const doc = await sendWith(client, streamName, target, flags, io);
    io.result(doc, renderSummary);
    if (doc.sent > doc.invalid) io.info(io.errStyle.dim(deliveryNote(target, doc.eventTime?.from ?? null)));
    if (doc.failed > 0) {
      throw new PaypipeError(
        'UNSENT',
        `${doc.failed} of ${plural(doc.sent + doc.failed, 'event')} ${doc.failed === 1 ? 'was' : 'were'} not accepted by ${streamName} after retries${doc.unsentFile === null ? '' : `; saved in ${doc.unsentFile}`}`,
        {
          hint:
            doc.unsentFile === null
              ? 'see the errors above'
              : `resend them with \`paypipe send --from-file ${doc.unsentFile}\``,
          details: { unsentFile: doc.unsentFile, failed: doc.failed },
        },
      );
    }
  } finally {
    client.destroy();
  }
}

async function sendWith(
  client: KinesisClient,
  streamName: string,
  target: ResolvedTarget,
  flags: SendFlags,
  io: Io,
): Promise<SendSummaryDoc> {
  const capacity = await describeCapacity(client, streamName);
  // kinesalite never throttles; on AWS a provisioned stream takes 1,000 records and 1 MiB per shard per second.
  const shardPaced = target.kind === 'aws' && capacity.mode === 'PROVISIONED';
  const shardRate = shardPaced ? capacity.openShards * SHARD_RECORDS_PER_SECOND * SHARD_HEADROOM : undefined;
  const byteRate = shardPaced ? capacity.openShards * SHARD_BYTES_PER_SECOND * SHARD_HEADROOM : undefined;
  const rate =
    flags.rate !== undefined && shardRate !== undefined
      ? Math.min(flags.rate, shardRate)
      : (flags.rate ?? shardRate);
  if (flags.rate !== undefined && shardRate !== undefined && flags.rate > shardRate) {
    io.warn(
      `--rate ${flags.rate}/s is above what ${plural(capacity.openShards, 'shard')} take (${SHARD_RECORDS_PER_SECOND}/s each); pacing at ${Math.floor(shardRate)}/s`,
    );
  }

  const clock = (): number => Date.now();
  const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 32);
  const scenario = flags.scenario === undefined ? undefined : parseScenario(flags.scenario);
  let source: Iterable<SendItem> | AsyncIterable<SendItem>;
  let sourceDoc: SendSummaryDoc['source'];
  if (flags.fromFile !== undefined) {
    const path = flags.fromFile === '-' ? '-' : resolve(flags.fromFile);
    if (path !== '-') {
      const { stat } = await import('node:fs/promises');
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile()) {
        throw usageError(
          `--from-file ${flags.fromFile}: no such file`,
          'give an NDJSON file of events (one JSON object per line)',
        );
      }
    }
    source = await checkedFirst(
      fileItems(path, {
        clock,
        maxFutureSkewMs: target.config.aggregator.maxFutureSkewMs,
        allowInvalid: flags.allowInvalid,
        label: flags.fromFile,
      }),
    );
    sourceDoc = { type: 'file', path };
  } else {
    source = generatedItems({ seed, scenario: scenario?.scenario, spanMs: scenario?.spanMs, clock });
    sourceDoc = { type: 'generated', seed, scenario: flags.scenario ?? null, spanMs: scenario?.spanMs ?? 0 };
  }
  const count =
    flags.count ?? (flags.duration === undefined && flags.fromFile === undefined ? 100 : undefined);

  const what =
    count !== undefined
      ? `${formatCount(count)} events`
      : flags.duration !== undefined
        ? `events for ${ms(flags.duration)}`
        : 'events';
  io.info(
    `sending ${what} to ${streamName} (${target.kind}${target.kind === 'aws' ? ` ${target.region}` : ''}, ${plural(capacity.openShards, 'shard')}${rate !== undefined ? `, ${formatCount(Math.round(rate))}/s` : ''})`,
  );

  // A live line on a TTY only; redrawn at most 4 times a second.
  let latest: SendRunProgress | undefined;
  const live = io.interactive && !io.quiet;
  const draw = (): void => {
    if (latest !== undefined)
      io.stderr.write(`\r\u001b[K${progressLine(latest, { count, durationMs: flags.duration })}`);
  };
  const timer = live ? setInterval(draw, 250) : undefined;
  const interrupt = interruptSignal();
  const startedAt = new Date();
  let run: SendRunResult;
  try {
    run = await runSend(client, streamName, source, {
      count,
      durationMs: flags.duration,
      rate,
      byteRate,
      concurrency: flags.concurrency,
      maxAttempts: flags.maxAttempts,
      signal: interrupt.signal,
      windowMs: target.config.aggregator.windowSeconds * 1000,
      onProgress: (p) => {
        latest = p;
      },
    });
  } finally {
    interrupt.dispose();
    if (timer !== undefined) {
      clearInterval(timer);
      io.stderr.write('\r\u001b[K');
    }
  }
  const finishedAt = new Date();
  if (run.interrupted)
    io.warn(`interrupted: stopped after ${plural(run.pulled, 'event')} (all of them sent or saved)`);
  // The stream stopped taking records mid-run (deleted, access revoked): say why, not only how many.
  if (run.stoppedBy !== undefined) {
    io.warn(`stopped early: ${run.stoppedBy.message}${run.stoppedBy.hint ? ` (${run.stoppedBy.hint})` : ''}`);
  }

  let unsentFile: string | null = null;
  if (run.failedRecords.length > 0) {
    const file = flags.unsentFile ?? defaultUnsentFile(flags.dataDir, finishedAt);
    try {
      unsentFile = await writeUnsent(file, run.failedRecords);
    } catch (e) {
      throw new PaypipeError(
        'IO',
        `could not write the ${run.failedRecords.length} unsent events to ${file}: ${(e as Error).message}`,
        {
          hint: 'pick a writable path with --unsent-file',
          cause: e,
        },
      );
    }
  }
  return {
    kind: SUMMARY_KIND,
    version: 1,
    target: target.kind,
    stream: streamName,
    region: target.region,
    source: sourceDoc,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: Math.round(run.durationMs),
    requested: count ?? null,
    sent: run.sent,
    failed: run.failed,
    retried: run.retried,
    throttled: run.throttled,
    requests: run.requests,
    throughput: run.durationMs > 0 ? Math.round((run.sent / run.durationMs) * 1000 * 10) / 10 : 0,
    pacedRate: rate ?? null,
    invalid: run.invalid,
    eventTime:
      run.minEventMs === undefined || run.maxEventMs === undefined
        ? null
        : { from: new Date(run.minEventMs).toISOString(), to: new Date(run.maxEventMs).toISOString() },
    byCurrency: renderTotals(run.totals),
    byWindow: renderWindowTotals(run.byWindow),
    windowSeconds: target.config.aggregator.windowSeconds,
    unsentFile,
  };
}

/**
 * Pulls the first item before the send starts, so whatever the source checks up front (the
 * --from-file sample) fails as a usage error with nothing sent, not from inside the sender.
 */
async function checkedFirst(
  items: AsyncGenerator<SendItem, void, undefined>,
): Promise<AsyncIterable<SendItem>> {
  const first = await items.next();
  return (async function* () {
    if (first.done !== true) yield first.value;
    yield* items;
  })();
}

/** `--via-lambda`: one Invoke of the deployed producer with { count, seed }. */
async function sendViaLambda(flags: SendFlags, io: Io): Promise<void> {
  const count = flags.count ?? 100;
  if (count > MAX_LAMBDA_EVENTS) {
    throw usageError(
      `--count with --via-lambda must be at most ${MAX_LAMBDA_EVENTS.toLocaleString('en-US')} (one producer invocation), got ${count}`,
    );
  }
  const target = await resolveTarget(flags, { need: ['producerFunction', 'inputStream'] });
  if (target.kind !== 'aws') throw usageError('--via-lambda needs AWS');
  const { awsOnlyClients } = await import('../../aws/clients.js');
  // The producer may take up to its timeout; the SDK must not retry an Invoke that did run.
  const lambda = await (await awsOnlyClients(target.clientTarget, { maxAttempts: 1 })).lambda();
  try {
    io.info(
      `invoking ${target.names.producerFunction} with { count: ${count}${flags.seed === undefined ? '' : `, seed: ${flags.seed}`} }`,
    );
    const doc = await invokeProducer(lambda, target.names.producerFunction, {
      count,
      seed: flags.seed,
      stream: target.names.inputStream,
      region: target.region,
    });
    io.result(doc, renderSummary);
    if (doc.failed > 0) {
      throw new PaypipeError('UNSENT', `the producer left ${doc.failed} of ${count} events unsent`, {
        hint: 'check its logs: `paypipe logs producer --since 10m`',
      });
    }
  } finally {
    lambda.destroy();
  }
}

export const MAX_LAMBDA_EVENTS = 100_000;

interface ProducerResultPayload {
  sent: number;
  failed: number;
  retried: number;
  seed: number;
  totals_by_currency: Record<string, { count: number; total_amount: number }>;
}

/** Invokes the producer and turns its result into a send summary (so `results --verify` takes it too). */
export async function invokeProducer(
  lambda: LambdaClient,
  functionName: string,
  o: { count: number; seed?: number | undefined; stream: string; region: string },
): Promise<SendSummaryDoc> {
  const { invokeFunction } = await import('../../aws/lambda.js');
  const startedAt = new Date();
  let out: Awaited<ReturnType<typeof invokeFunction>>;
  try {
    out = await invokeFunction(lambda, functionName, {
      count: o.count,
      ...(o.seed === undefined ? {} : { seed: o.seed }),
    });
  } catch (e) {
    const name = (e as { name?: string }).name ?? 'Error';
    throw new PaypipeError(
      'AWS',
      `invoking ${functionName} failed: ${name}: ${((e as Error).message ?? '').split('\n')[0]}`,
      {
        hint:
          name === 'ResourceNotFoundException'
            ? 'is the stack deployed in this region? (`paypipe outputs`)'
            : 'check the credentials and lambda:InvokeFunction permission',
        cause: e,
      },
    );
  }
  const finishedAt = new Date();
  const text = out.payload;
  if (out.functionError !== undefined) {
    let msg = text;
    try {
      const p = JSON.parse(text) as { errorMessage?: string; errorType?: string };
      msg = `${p.errorType ?? 'Error'}: ${p.errorMessage ?? text}`;
    } catch {
      // not JSON: show as is
    }
    throw new PaypipeError('AWS', `the producer ${functionName} failed: ${msg.split('\n')[0]}`, {
      hint: 'check its logs: `paypipe logs producer --since 10m`',
    });
  }
  let r: ProducerResultPayload;
  try {
    r = JSON.parse(text) as ProducerResultPayload;
    if (typeof r.sent !== 'number' || typeof r.totals_by_currency !== 'object')
      throw new Error('unexpected shape');
  } catch (e) {
    throw new PaypipeError(
      'AWS',
      `the producer ${functionName} returned an unexpected payload: ${(e as Error).message}`,
      {
        hint: 'is the deployed producer from this version of paypipe? (`paypipe deploy`)',
      },
    );
  }
  const minor = new Map<string, { count: number; totalMinor: number }>();
  for (const [c, t] of Object.entries(r.totals_by_currency)) {
    const exp = currencyExponent(c) ?? 2;
    const m = toMinor(t.total_amount, exp, Number.MAX_SAFE_INTEGER);
    minor.set(c, { count: t.count, totalMinor: m.ok ? m.minor : 0 });
  }
  const durationMs = finishedAt.getTime() - startedAt.getTime();
  return {
    kind: SUMMARY_KIND,
    version: 1,
    target: 'aws',
    stream: o.stream,
    region: o.region,
    source: { type: 'lambda', function: functionName },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs,
    requested: o.count,
    sent: r.sent,
    failed: r.failed,
    retried: r.retried,
    throttled: 0,
    requests: 1,
    throughput: durationMs > 0 ? Math.round((r.sent / durationMs) * 1000 * 10) / 10 : 0,
    pacedRate: null,
    invalid: 0,
    // The producer stamps events with its own clock at invocation; the window is around now.
    eventTime: { from: startedAt.toISOString(), to: finishedAt.toISOString() },
    byCurrency: renderTotals(minor),
    unsentFile: null,
  };
}
