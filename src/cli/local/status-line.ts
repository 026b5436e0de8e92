/** The one-line summary of a running local pipeline (`paypipe up`'s live line). */
import type { LocalStatus } from '../../local/status.js';
import type { Style } from '../io.js';

const n = (x: number): string => x.toLocaleString('en-US');

const ms = (x: number): string => (x < 1000 ? `${Math.round(x)} ms` : `${(x / 1000).toFixed(1)} s`);

/** Deliveries that keep failing and wait (e.g. a deleted bucket): the line must not look healthy. */
function parkedNotes(s: LocalStatus, compact: boolean): string[] {
  return (['raw', 'analytics'] as const).flatMap((role) => {
    const p = s.firehose?.[role]?.parked;
    if (p === undefined) return [];
    if (compact) return [`${role} parked`];
    return [
      `${role} delivery parked (${p.kind === 'bucket-missing' ? `bucket ${p.bucket} missing` : 'S3 refuses it'})`,
    ];
  });
}

/** `events in 1,200 · aggregates out 35 · lag shard-0 0 ms, shard-1 0 ms · dead-lettered 3 · failed batches 0`. */
export function renderStatusLine(s: LocalStatus, style: Style, opts: { compact?: boolean } = {}): string {
  if (opts.compact === true) {
    // Narrow terminals: the worst shard's lag instead of every shard's.
    const worst = Math.max(0, ...s.lag.map((l) => Math.max(l.millisBehindLatest, l.pendingAgeMs)));
    const pending = s.lag.reduce((a, l) => a + l.pendingRecords, 0);
    return [
      `in ${n(s.eventsIn)}`,
      `out ${n(s.aggregatesOut)}`,
      `lag ${ms(worst)}${pending > 0 ? ` (${n(pending)} pending)` : ''}`,
      `dead-lettered ${n(s.deadLettered)}`,
      `failed ${n(s.failedBatches)}`,
      ...parkedNotes(s, true).map((x) => style.red(x)),
    ].join(' · ');
  }
  const lag = s.lag
    .map((l) => {
      const behind = Math.max(l.millisBehindLatest, l.pendingAgeMs);
      const id = l.shardId.replace(/^shardId-0*/, 'shard-').replace(/^shard-$/, 'shard-0');
      const text = `${id} ${ms(behind)}${l.pendingRecords > 0 ? ` (${n(l.pendingRecords)} pending)` : ''}`;
      return behind > 60_000 ? style.yellow(text) : text;
    })
    .join(', ');
  const parts = [
    `events in ${n(s.eventsIn)}`,
    `aggregates out ${n(s.aggregatesOut)}`,
    `lag ${lag === '' ? '—' : lag}`,
    s.deadLettered > 0 ? style.yellow(`dead-lettered ${n(s.deadLettered)}`) : 'dead-lettered 0',
    s.failedBatches > 0 ? style.red(`failed batches ${n(s.failedBatches)}`) : 'failed batches 0',
    ...parkedNotes(s, false).map((x) => style.red(x)),
  ];
  return parts.join(' · ');
}
