/**
 * Lists both dead-letter stores: bad records in S3 (same layout on AWS and locally, read through the
 * shared S3 helpers) and failed batches (local file, or the SQS queue's depth on AWS).
 */
import { hourPrefixes } from '../../pipeline/partitions.js';
import { oneOf, resolveSince } from '../../pipeline/time-range.js';
import type { DeadLetterFlags } from './flags.js';
import type { Io, Style } from '../io.js';
import { pickCount } from '../options.js';
import { plural } from '../render/aggregates.js';
import { resolveTarget } from '../target.js';

const DEFAULT_COUNT = 50;

export interface BadRecordRow {
  reason: string;
  detail: string;
  shard_id: string;
  sequence_number: string;
  arrival: string;
  /** The record as it arrived, decoded as UTF-8 and cut to 200 characters. */
  preview: string;
  key: string;
}

export interface DeadLetterReport {
  target: 'aws' | 'local';
  bucket: string;
  objects: number;
  badRecords: number;
  byReason: Record<string, number>;
  records: BadRecordRow[];
  /** Records beyond --count (counted in byReason, not listed). */
  truncated: number;
  failedBatches:
    | { kind: 'local'; count: number; batches: unknown[] }
    | { kind: 'sqs'; queueUrl: string; approximateMessages: number | null };
  unreadable: string[];
}

interface DeadLetterLine {
  reason?: string;
  detail?: string;
  shard_id?: string;
  sequence_number?: string;
  approximate_arrival_timestamp?: number;
  data_base64?: string;
}

export async function runDeadLetters(
  flags: DeadLetterFlags,
  io: Io,
  nowMs = Date.now(),
): Promise<DeadLetterReport> {
  // Flags first: a bad time is a usage error before anything is resolved or read.
  const sinceMs = resolveSince(oneOf(flags.since, flags.last) ?? flags.since, nowMs);
  const limit = pickCount(flags) ?? DEFAULT_COUNT;
  const target = await resolveTarget(flags, { need: ['analyticsBucket'] });
  const { s3Client } = await import('../../aws/clients.js');
  const { listObjects } = await import('../../aws/s3.js');
  const { readObjects } = await import('../../aws/s3-objects.js');
  const s3 = await s3Client(target.clientTarget);
  const bucket = target.names.analyticsBucket;
  const prefixes = hourPrefixes(target.config.aggregator.deadLetterPrefix, sinceMs, nowMs);
  io.info(
    `Reading dead letters from s3://${bucket}/${target.config.aggregator.deadLetterPrefix} (${plural(prefixes.length, 'hour')})…`,
  );
  const objects = await listObjects(s3, bucket, prefixes);
  const byReason: Record<string, number> = {};
  const records: BadRecordRow[] = [];
  let badRecords = 0;
  const outcomes = await readObjects(s3, bucket, objects, {
    onRecords: (recs, obj) => {
      for (const r of recs as DeadLetterLine[]) {
        badRecords++;
        const reason = r.reason ?? 'unknown';
        byReason[reason] = (byReason[reason] ?? 0) + 1;
        if (records.length >= limit) continue;
        const text = Buffer.from(r.data_base64 ?? '', 'base64').toString('utf8');
        records.push({
          reason,
          detail: r.detail ?? '',
          shard_id: r.shard_id ?? '',
          sequence_number: r.sequence_number ?? '',
          arrival:
            r.approximate_arrival_timestamp === undefined
              ? ''
              : new Date(Math.round(r.approximate_arrival_timestamp * 1000)).toISOString(),
          preview: text.length > 200 ? `${text.slice(0, 200)}…` : text,
          key: obj.key,
        });
      }
    },
  });
  const unreadable = outcomes
    .filter((o) => o.problem !== undefined)
    .map((o) => `${o.key}: ${o.problem?.message}`);
  s3.destroy();

  let failedBatches: DeadLetterReport['failedBatches'];
  if (target.kind === 'local') {
    const { listFailedBatches } = await import('../../local/failed-batches.js');
    const batches = await listFailedBatches(target.dataDir);
    failedBatches = { kind: 'local', count: batches.length, batches };
  } else {
    const queueUrl = target.names.failureQueueUrl ?? '';
    let approximateMessages: number | null = null;
    if (queueUrl !== '') {
      const { awsOnlyClients } = await import('../../aws/clients.js');
      const { queueDepth } = await import('../../aws/sqs.js');
      const sqs = await (await awsOnlyClients(target.clientTarget)).sqs();
      try {
        approximateMessages = (await queueDepth(sqs, queueUrl)) ?? 0;
      } finally {
        sqs.destroy();
      }
    }
    failedBatches = { kind: 'sqs', queueUrl, approximateMessages };
  }
  return {
    target: target.kind,
    bucket,
    objects: objects.length,
    badRecords,
    byReason,
    records,
    truncated: Math.max(0, badRecords - records.length),
    failedBatches,
    unreadable,
  };
}

export function renderDeadLetters(r: DeadLetterReport, s: Style): string {
  const lines: string[] = [];
  const reasons = Object.entries(r.byReason).sort((a, b) => b[1] - a[1]);
  lines.push(
    s.bold(
      `Bad records: ${r.badRecords.toLocaleString('en-US')} in ${plural(r.objects, 'object')} of s3://${r.bucket}`,
    ),
  );
  if (reasons.length > 0) lines.push(`  by reason: ${reasons.map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  for (const row of r.records) {
    lines.push(
      `  ${s.yellow(row.reason.padEnd(22))} ${s.dim(`${row.shard_id}:${row.sequence_number.slice(-12)}`)} ${row.arrival}`,
    );
    lines.push(`      ${row.detail}${row.preview === '' ? '' : s.dim(` — ${JSON.stringify(row.preview)}`)}`);
  }
  if (r.truncated > 0) lines.push(s.dim(`  … ${r.truncated} more (raise --count, or use --json)`));
  for (const u of r.unreadable) lines.push(s.red(`  could not read ${u}`));
  const fb = r.failedBatches;
  if (fb.kind === 'local') {
    lines.push(s.bold(`Failed batches: ${fb.count}`) + (fb.count > 0 ? '' : ' (none)'));
    for (const b of fb.batches as Array<{
      timestamp?: string;
      requestContext?: { condition?: string };
      KinesisBatchInfo?: {
        shardId?: string;
        startSequenceNumber?: string;
        endSequenceNumber?: string;
        batchSize?: number;
      };
    }>) {
      const i = b.KinesisBatchInfo ?? {};
      lines.push(
        `  ${b.timestamp ?? ''} ${b.requestContext?.condition ?? ''} ${i.shardId ?? ''} ${i.batchSize === undefined ? '? records' : plural(i.batchSize, 'record')} ${i.startSequenceNumber ?? ''}…${i.endSequenceNumber ?? ''}`,
      );
    }
  } else {
    lines.push(
      s.bold('Failed batches: ') +
        (fb.approximateMessages === null
          ? 'no failure queue in the stack outputs'
          : `${plural(fb.approximateMessages, 'message')} in ${fb.queueUrl}`),
    );
  }
  return lines.join('\n');
}
