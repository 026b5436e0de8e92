/**
 * `paypipe status`: frames of the pipeline's figures (src/cli/pipeline-metrics.ts), redrawn in
 * place on a terminal until Ctrl-C; one frame (or one JSON document) otherwise.
 */
import { SHARD_WRITE_LIMITS } from '../../pipeline/metrics.js';
import type { Io, Style } from '../io.js';
import { interruptSignal } from '../interrupt.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import { resolveTarget } from '../target.js';
import type { StatusFlags } from './flags.js';

const BARS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest; undefined (no data) is a space. */
export function sparkline(values: readonly (number | undefined)[]): string {
  const max = Math.max(0, ...values.map((v) => v ?? 0));
  return values
    .map((v) => {
      if (v === undefined) return ' ';
      if (max === 0) return BARS[0];
      return BARS[Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5))];
    })
    .join('');
}

export interface StatusFrame {
  subject: string;
  shards: number;
  mode: string;
  metrics: PipelineMetrics;
}

/** Every period of the window in order, gaps as undefined, for a chart `width` wide at most. */
function lane(
  m: PipelineMetrics,
  pick: (p: PipelineMetrics['points'][number]) => number | undefined,
  width: number,
) {
  const byT = new Map(m.points.map((p) => [p.t, p]));
  const first = m.startMs - (m.startMs % m.periodMs);
  const out: (number | undefined)[] = [];
  for (let t = first; t < m.endMs; t += m.periodMs) {
    const p = byT.get(t);
    out.push(p === undefined ? undefined : pick(p));
  }
  return out.slice(-width);
}

export function renderFrame(f: StatusFrame, style: Style, width = 60): string {
  const m = f.metrics;
  const perS = m.periodMs / 1000;
  const records = lane(m, (p) => p.recordsIn / perS, width);
  const lag = lane(m, (p) => p.lagMs, width);
  const out = lane(m, (p) => p.aggregatesOut / perS, width);
  const latest = m.points.at(-1);
  const peak = Math.max(0, ...records.map((v) => v ?? 0));
  const limit = f.shards * SHARD_WRITE_LIMITS.recordsPerSecond;
  const pct = (v: number) =>
    f.mode === 'ON_DEMAND' ? '' : ` (${Math.round((100 * v) / limit)}% of ${f.shards} shards)`;
  const fmt = (v: number | undefined, unit: string) =>
    v === undefined ? '–' : `${Math.round(v * 10) / 10}${unit}`;
  const lines = [
    style.bold(`paypipe status: ${f.subject}`) +
      style.dim(`  ${m.source}, ${new Date(m.endMs).toISOString().slice(11, 19)} UTC`),
    '',
    `records in/s   ${style.cyan(sparkline(records))}  now ${fmt(latest === undefined ? undefined : latest.recordsIn / perS, '')}, peak ${fmt(peak, '')}${pct(peak)}`,
    `aggregates/s   ${style.cyan(sparkline(out))}  now ${fmt(latest === undefined ? undefined : latest.aggregatesOut / perS, '')}`,
    `lag            ${style.yellow(sparkline(lag))}  now ${fmt(latest?.lagMs === undefined ? undefined : latest.lagMs / 1000, ' s')}`,
  ];
  const reasons = Object.entries(m.rejectsByReason).sort((a, b) => b[1] - a[1]);
  lines.push(
    `rejects        ${reasons.length === 0 ? 'none' : reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`,
  );
  const alarmLine = m.alarms
    .map((a) =>
      a.state === 'ALARM'
        ? style.red(`● ${a.name}`)
        : a.state === 'OK'
          ? style.green(`● ${a.name}`)
          : style.dim(`○ ${a.name}`),
    )
    .join('  ');
  lines.push(`alarms         ${alarmLine === '' ? 'none' : alarmLine}`);
  return `${lines.join('\n')}\n`;
}

export async function runStatus(flags: StatusFlags, io: Io): Promise<void> {
  const target = await resolveTarget(flags);
  const { whenMs } = await import('../../pipeline/time-range.js');
  // A duration ago is a rolling window (recomputed each frame); a UTC time is a fixed start.
  const startOf = (now: number): number =>
    flags.since === undefined ? now - 30 * 60_000 : whenMs(flags.since, now);
  const { describeStreamSummary } = await import('../../aws/kinesis.js');
  const clients = await import('../../aws/clients.js');
  const kinesis = await clients.kinesisClient(target.clientTarget);
  const pm = await import('../pipeline-metrics.js');
  let cw: { destroy(): void } | undefined;
  let read: (range: { startMs: number; endMs: number }) => Promise<PipelineMetrics>;
  if (target.kind === 'local')
    read = (range) => pm.localPipelineMetrics(target.dataDir, target.config, range);
  else {
    const client = await (await clients.awsOnlyClients(target.clientTarget)).cloudWatch();
    cw = client;
    read = (range) => pm.awsPipelineMetrics(client, target.config, target.names, range);
  }
  const frame = async (): Promise<StatusFrame> => {
    const now = Date.now();
    const range = { startMs: Math.min(startOf(now), now), endMs: now + 1 };
    const [stream, metrics] = await Promise.all([
      describeStreamSummary(kinesis, target.names.inputStream),
      read(range),
    ]);
    return {
      subject:
        target.kind === 'aws'
          ? `stack ${target.stackName} in ${target.region}`
          : `local pipeline in ${target.dataDir}`,
      shards: Math.max(1, stream?.openShards ?? target.config.streams.input.shardCount),
      mode: stream?.mode ?? target.config.streams.input.capacityMode,
      metrics,
    };
  };
  try {
    const live = flags.once !== true && !io.json && io.stdout.isTTY === true;
    if (!live) {
      io.result(await frame(), (f, style) => renderFrame(f, style));
      return;
    }
    const stop = interruptSignal();
    const every = flags.interval ?? (target.kind === 'aws' ? 60_000 : 5000);
    try {
      while (!stop.signal.aborted) {
        const text = renderFrame(await frame(), io.style, Math.max(20, (io.stdout.columns ?? 100) - 50));
        io.stdout.write(`\u001b[H\u001b[2J${text}${io.style.dim('Ctrl-C to stop')}\n`);
        await new Promise<void>((res) => {
          const t = setTimeout(res, every);
          stop.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              res();
            },
            { once: true },
          );
        });
      }
    } finally {
      stop.dispose();
    }
  } finally {
    kinesis.destroy();
    cw?.destroy();
  }
}
