/**
 * doctor's judgement of the metrics and alarms (facts.metrics): alarm states, throughput against
 * the input stream's write limits (with resharding in progress recognised), the last hour's lag,
 * and rejects by reason. Pure; the entries that use these are in checks.ts.
 */
import { alarmDefinitions } from '../../pipeline/alarms.js';
import { SHARD_WRITE_LIMITS } from '../../pipeline/metrics.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { DoctorFacts, StreamFact } from './facts.js';
import type { CommandKind } from './fix-commands.js';
import { formatAge, plural } from './thresholds.js';

/** The shape of checks.ts's Verdict (kept apart so this file does not import the list that uses it). */
export type MonitoringVerdict =
  | { status: 'pass' | 'n/a'; evidence: string }
  | { status: 'warn' | 'fail'; evidence: string; fix: string };

type Paypipe = (args: string, kind?: CommandKind) => string;

/** Share of the write limit above which doctor advises more capacity. */
export const THROUGHPUT_WARN_SHARE = 0.8;

export function judgeAlarms(m: PipelineMetrics, f: DoctorFacts, paypipe: Paypipe): MonitoringVerdict {
  const defs = new Map(alarmDefinitions(f.config).map((d) => [d.name, d]));
  const firing = m.alarms.filter((a) => a.state === 'ALARM');
  const where = f.target === 'local' ? ' (evaluated on the local functions’ metrics)' : '';
  if (firing.length > 0) {
    const names = firing
      .map((a) => (a.value === undefined ? a.name : `${a.name} (${round(a.value)})`))
      .join(', ');
    const next = [...new Set(firing.map((a) => defs.get(a.name)?.next).filter((x) => x !== undefined))];
    return {
      status: 'fail',
      evidence: `${plural(firing.length, 'alarm')} in ALARM${where}: ${names}`,
      fix:
        next.length > 0
          ? `next: ${next.map((n) => paypipe(n)).join(', ')}`
          : 'see the alarm descriptions in CloudWatch',
    };
  }
  const ok = m.alarms.filter((a) => a.state === 'OK').length;
  const insufficient = m.alarms.length - ok;
  const evidence = `${plural(ok, 'alarm')} OK${insufficient > 0 ? `, ${insufficient} with insufficient data` : ''}${where}`;
  if (m.alarmsMissing.length > 0 && f.target === 'aws') {
    return {
      status: 'warn',
      evidence: `${evidence}; not deployed: ${m.alarmsMissing.join(', ')}`,
      fix: `deploy the stack's alarms: ${paypipe('deploy', 'stack')}`,
    };
  }
  return { status: 'pass', evidence };
}

export interface Throughput {
  shards: number;
  recordsPerSecond: number;
  bytesPerSecond: number;
  /** The larger of the two shares of the write limit. */
  share: number;
  /** Start of the busiest period. */
  atMs?: number | undefined;
}

/** The busiest period of the window against `shards` shards' write limits. */
export function peakThroughput(m: PipelineMetrics, shards: number): Throughput {
  let best: Throughput = { shards, recordsPerSecond: 0, bytesPerSecond: 0, share: 0 };
  for (const p of m.points) {
    const r = p.recordsIn / (m.periodMs / 1000);
    const b = p.bytesIn / (m.periodMs / 1000);
    const share = Math.max(
      r / (shards * SHARD_WRITE_LIMITS.recordsPerSecond),
      b / (shards * SHARD_WRITE_LIMITS.bytesPerSecond),
    );
    if (share > best.share) best = { shards, recordsPerSecond: r, bytesPerSecond: b, share, atMs: p.t };
  }
  return best;
}

export function judgeThroughput(
  m: PipelineMetrics,
  input: StreamFact | undefined,
  f: DoctorFacts,
  paypipe: Paypipe,
): MonitoringVerdict {
  const mode = input?.mode ?? f.config.streams.input.capacityMode;
  // A stream mid-creation reports 0 open shards: judge against at least one.
  const shards = Math.max(1, input?.openShards ?? f.config.streams.input.shardCount);
  const t = peakThroughput(m, shards);
  const peak = `peak ${round(t.recordsPerSecond)} records/s, ${formatBytes(t.bytesPerSecond)}/s (busiest ${m.periodMs === 60_000 ? 'minute' : `${m.periodMs / 1000} s`} of the last hour)`;
  if (input?.status === 'UPDATING') {
    return {
      status: 'warn',
      evidence: `resharding in progress (${input.name} is UPDATING, ${plural(shards, 'open shard')}); ${peak}`,
      fix: `wait for it to finish: ${paypipe('doctor')} again in a few minutes (capacity changes when the stream is ACTIVE)`,
    };
  }
  if (mode === 'ON_DEMAND') return { status: 'pass', evidence: `on-demand capacity; ${peak}` };
  const pct = Math.round(t.share * 100);
  const evidence = `input at ${pct}% of ${plural(shards, 'shard')}' write limit (${SHARD_WRITE_LIMITS.recordsPerSecond.toLocaleString('en-US')} records/s and 1 MiB/s per shard); ${peak}`;
  if (t.share < THROUGHPUT_WARN_SHARE) return { status: 'pass', evidence };
  const fix =
    f.target === 'local'
      ? `the local stream never throttles, but this rate needs more shards on AWS: set shardCount to ${shards * 2} in paypipe.config.json (and restart ${paypipe('up', 'up')}), or deploy with on-demand capacity`
      : `${paypipe(`scale --shards ${shards * 2}`)} or on-demand mode: ${paypipe('scale --on-demand')}`;
  return { status: t.share >= 1 ? 'fail' : 'warn', evidence, fix };
}

export function judgeHourLag(m: PipelineMetrics, f: DoctorFacts, paypipe: Paypipe): MonitoringVerdict {
  const lags = m.points.flatMap((p) => (p.lagMs === undefined ? [] : [p.lagMs]));
  if (lags.length === 0) return { status: 'pass', evidence: 'no lag data in the last hour (nothing read)' };
  const max = Math.max(...lags);
  const latest = lags[lags.length - 1] as number;
  const evidence = `max ${formatAge(max)} over the last hour, latest ${formatAge(latest)}`;
  if (max <= f.config.alarms.lagSeconds * 1000) return { status: 'pass', evidence };
  return {
    status: 'warn',
    evidence: `${evidence} (alarm threshold ${formatAge(f.config.alarms.lagSeconds * 1000)})`,
    fix: `if the input is near its write limit, ${paypipe('scale')}; else ${paypipe('logs aggregator --level warn')}`,
  };
}

export function judgeRejects(m: PipelineMetrics, f: DoctorFacts, paypipe: Paypipe): MonitoringVerdict {
  const total = m.points.reduce((a, p) => a + p.recordsIn, 0);
  const rejected = Object.values(m.rejectsByReason).reduce((a, n) => a + n, 0);
  if (rejected === 0)
    return { status: 'pass', evidence: `none of ${plural(total, 'record')} in the last hour` };
  const reasons = Object.entries(m.rejectsByReason)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const pct = total > 0 ? (100 * rejected) / total : 100;
  const evidence = `${plural(rejected, 'record')} rejected in the last hour (${round(pct)}%): ${reasons}`;
  if (pct <= f.config.alarms.rejectPercent) return { status: 'pass', evidence };
  return {
    status: 'warn',
    evidence: `${evidence}; above the ${f.config.alarms.rejectPercent}% alarm threshold`,
    fix: `see what was rejected and why: ${paypipe('dead-letters')}`,
  };
}

function round(v: number): string {
  return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

function formatBytes(b: number): string {
  if (b >= 1024 * 1024) return `${round(b / (1024 * 1024))} MiB`;
  if (b >= 1024) return `${round(b / 1024)} KiB`;
  return `${Math.round(b)} B`;
}
