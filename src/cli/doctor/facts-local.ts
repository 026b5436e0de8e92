/**
 * `paypipe doctor --local`: the same questions against the local pipeline, where they have an
 * answer — the process and its servers, streams, the emulated Firehose deliveries and poller, the
 * failed-batch file, dead letters, per-shard lag, function errors from the local log files,
 * freshness, the local scheduler and the probe. AWS-only concerns (IAM, region, CloudFormation,
 * the mapping's deployed settings) say "n/a".
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { join, resolve } from 'node:path';
import {
  buildReport,
  type CheckResult,
  checkDeadLetters,
  checkFailureQueue,
  checkFunctionErrors,
  checkLag,
  checkSchedule,
  checkStream,
  type DoctorReport,
  fail,
  formatAge,
  freshnessLimitMs,
  lagThresholds,
  notApplicable,
  pass,
  warn,
} from './checks.js';
import { parseLogMessage } from '../../pipeline/log-format.js';
import { isPaypipeError } from '../../errors.js';
import type { LocalStatus } from '../../local/status.js';
import type { TargetFlags } from '../options.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import type { DoctorOptions } from './facts-aws.js';
import { deadLetterFacts, errLine, freshnessChecks, guard, streamFact } from './facts.js';
import { localLogTails } from '../../local/log-files.js';
import { runProbe } from './probe.js';

const plural = (n: number, one: string): string => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

type LocalTarget = Extract<ResolvedTarget, { kind: 'local' }>;

const ERRORS_WINDOW_MS = 15 * 60_000;
/** status.json is rewritten every second; older than this means the pipeline process is stuck. */
const STATUS_STALE_MS = 10_000;

export interface LocalDoctorDeps {
  now?: () => number;
}

function notApplicableOnLocal(): CheckResult[] {
  return [
    notApplicable('credentials', 'AWS credentials', 'local pipeline: no AWS account involved'),
    notApplicable('region', 'Region', 'local pipeline: one embedded region'),
    notApplicable('stack', 'Stack deployed', 'local pipeline: no CloudFormation stack'),
  ];
}

export function checkLocalDelivery(role: 'raw' | 'analytics', s: LocalStatus): CheckResult {
  const id = `firehose.${role}`;
  const title = `Firehose ${role} delivery (local)`;
  const d = s.firehose[role];
  const ev = `${d.name}: ${plural(d.recordsDelivered, 'record')} in ${plural(d.objectsWritten, 'object')}, ${d.bufferedRecords} buffered`;
  if (!s.running) return fail(id, title, `${ev}; not running`, 'start the local pipeline with `paypipe up`');
  if (d.errorObjects > 0) {
    return fail(
      id,
      title,
      `${ev}; ${d.errorObjects} objects written under errors/`,
      'records could not be delivered: inspect the errors/ prefix in the bucket and `paypipe logs --local`',
    );
  }
  if (d.deliveryErrors > 0) {
    return warn(
      id,
      title,
      `${ev}; ${d.deliveryErrors} delivery attempts failed and were retried`,
      `see ${s.dataDir}/servers.log and the last error: ${s.lastError ?? 'none recorded'}`,
    );
  }
  return pass(id, title, ev);
}

export function checkLocalPoller(s: LocalStatus, nowMs: number): CheckResult {
  const id = 'esm.state';
  const title = 'Aggregator poller (local)';
  const age = nowMs - Date.parse(s.updatedAt);
  const ev = `${s.lag.length} shard pollers; ${s.eventsIn.toLocaleString('en-US')} records read, ${s.aggregator.invocations} invocations, ${s.aggregator.retries} retries`;
  if (!s.running) return fail(id, title, `${ev}; stopped`, 'start the local pipeline with `paypipe up`');
  if (age > STATUS_STALE_MS) {
    return fail(
      id,
      title,
      `status.json not updated for ${formatAge(age)}`,
      `the pipeline process (pid ${s.pid}) looks stuck: stop it (Ctrl-C) and run \`paypipe up\` again`,
    );
  }
  return pass(id, title, ev);
}

/**
 * Age of the oldest record the aggregator has not finished, per shard: read from the stream itself
 * right after the poller's checkpoint, so a hung or stopped poller shows as growing lag.
 */
async function shardLag(
  kinesis: KinesisClient,
  stream: string,
  s: LocalStatus,
  nowMs: number,
): Promise<{ ageMs: number; shard: string | undefined; pending: number }> {
  const { GetShardIteratorCommand, GetRecordsCommand } = await import('@aws-sdk/client-kinesis');
  let worst = { ageMs: 0, shard: undefined as string | undefined, pending: 0 };
  for (const l of s.lag) {
    const it = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: l.shardId,
        ...(l.checkpoint === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: l.checkpoint }),
      }),
    );
    const r = await kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }));
    const first = r.Records?.[0]?.ApproximateArrivalTimestamp?.getTime();
    const age = Math.max(
      first === undefined ? 0 : Math.max(0, nowMs - first),
      l.millisBehindLatest,
      l.pendingAgeMs,
    );
    if (worst.shard === undefined || age > worst.ageMs)
      worst = { ageMs: age, shard: l.shardId, pending: l.pendingRecords };
  }
  return worst;
}

/** Invocations and failed invocations per function in the last 15 minutes, from the local log files. */
async function localErrors(dataDir: string, nowMs: number) {
  const out: Record<string, { invocations: number; errors: number }> = {};
  for (const tail of localLogTails(join(dataDir, 'logs'), ['producer', 'aggregator'])) {
    const counts = { invocations: 0, errors: 0 };
    for (const e of await tail.readNew()) {
      if (e.timestamp < nowMs - ERRORS_WINDOW_MS) continue;
      const p = parseLogMessage(e.message);
      if (p.kind === 'platform' && p.type === 'START') counts.invocations++;
      // What the runtime prints for a failed invocation (handler error or timeout).
      if (p.kind === 'text' && p.level === 'error' && /Invoke Error|Task timed out/.test(p.message))
        counts.errors++;
    }
    out[tail.fn] = counts;
  }
  return out;
}

export async function localDoctor(
  flags: TargetFlags,
  o: DoctorOptions,
  deps: LocalDoctorDeps = {},
): Promise<DoctorReport> {
  const now = deps.now ?? Date.now;
  const dataDir = resolve(flags.dataDir ?? '.paypipe');
  const subject = `local pipeline in ${dataDir}`;
  let t: LocalTarget;
  try {
    const r = await resolveTarget({ ...flags, local: true });
    if (r.kind !== 'local') throw new Error('unreachable: local target expected');
    t = r;
  } catch (e) {
    if (!isPaypipeError(e)) throw e;
    const { readLocalStatus } = await import('../../local/status.js');
    const last = await readLocalStatus(dataDir).catch(() => undefined);
    return buildReport('local', subject, [
      fail(
        'local.running',
        'Local pipeline running',
        `${e.message}${last === undefined ? '' : ` (last status ${last.updatedAt})`}`,
        e.hint ?? 'start it with `paypipe up`',
      ),
      ...notApplicableOnLocal(),
    ]);
  }

  const { kinesisClient, s3Client } = await import('../../aws/clients.js');
  // Few attempts: a dead server should read as "down" in seconds, not after a minute of retries.
  const kinesis = await kinesisClient(t.clientTarget, { maxAttempts: 2 });
  const s3 = await s3Client(t.clientTarget, { maxAttempts: 2 });
  try {
    return await localChecks(t, o, { kinesis, s3, now, subject });
  } finally {
    kinesis.destroy();
    s3.destroy();
  }
}

async function localChecks(
  t: LocalTarget,
  o: DoctorOptions,
  d: { kinesis: KinesisClient; s3: S3Client; now: () => number; subject: string },
): Promise<DoctorReport> {
  const { kinesis, s3, now } = d;
  const nowMs = now();
  const c = t.config;
  const n = t.names;
  const { readLocalStatus } = await import('../../local/status.js');
  const { listFailedBatches } = await import('../../local/failed-batches.js');
  const { readLocalSchedule } = await import('../../local/schedule.js');
  const checks: CheckResult[] = [
    pass('local.running', 'Local pipeline running', `pid ${t.pid}, data dir ${t.dataDir}`),
    ...notApplicableOnLocal(),
  ];

  const servers = await guard('local.servers', 'Local Kinesis and S3 servers', async () => {
    const { ListStreamsCommand } = await import('@aws-sdk/client-kinesis');
    const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
    try {
      await Promise.all([kinesis.send(new ListStreamsCommand({})), s3.send(new ListBucketsCommand({}))]);
    } catch (e) {
      return fail(
        'local.servers',
        'Local Kinesis and S3 servers',
        `${t.clientTarget.kinesisEndpoint} / ${t.clientTarget.s3Endpoint} not answering: ${errLine(e)}`,
        `see ${t.dataDir}/servers.log; stop \`paypipe up\` (Ctrl-C) and start it again`,
      );
    }
    return pass(
      'local.servers',
      'Local Kinesis and S3 servers',
      `kinesalite ${t.clientTarget.kinesisEndpoint}, s3rver ${t.clientTarget.s3Endpoint}`,
    );
  });
  checks.push(...servers);
  if (servers[0]?.status === 'fail') return buildReport('local', d.subject, checks);

  const status = await readLocalStatus(t.dataDir);
  const schedule = await readLocalSchedule(t.dataDir).catch((e: unknown) => e as Error);
  const lag = lagThresholds(c, o.maxLagMs);
  const limit =
    o.staleAfterMs ?? freshnessLimitMs(c, schedule instanceof Error ? undefined : schedule.expression);
  const enabled = schedule instanceof Error ? undefined : schedule.enabled;

  const results = await Promise.all([
    guard('stream.input', 'Kinesis input stream', async () =>
      checkStream('input', await streamFact(kinesis, n.inputStream), c.streams.input),
    ),
    guard('stream.output', 'Kinesis output stream', async () =>
      checkStream('output', await streamFact(kinesis, n.outputStream), c.streams.output),
    ),
    guard('firehose.raw', 'Firehose raw delivery (local)', async () =>
      status === undefined
        ? fail('firehose.raw', 'Firehose raw delivery (local)', 'no status.json', 'restart `paypipe up`')
        : checkLocalDelivery('raw', status),
    ),
    guard('firehose.analytics', 'Firehose analytics delivery (local)', async () =>
      status === undefined
        ? fail(
            'firehose.analytics',
            'Firehose analytics delivery (local)',
            'no status.json',
            'restart `paypipe up`',
          )
        : checkLocalDelivery('analytics', status),
    ),
    guard('esm.state', 'Aggregator poller (local)', async () =>
      status === undefined
        ? fail('esm.state', 'Aggregator poller (local)', 'no status.json', 'restart `paypipe up`')
        : checkLocalPoller(status, nowMs),
    ),
    Promise.resolve([
      notApplicable(
        'esm.settings',
        'Event source mapping settings',
        'the local poller runs the configuration itself (nothing deployed to drift)',
      ),
    ]),
    guard('failures', 'Failed-batch queue', async () =>
      checkFailureQueue((await listFailedBatches(t.dataDir)).length, 'failed-batches.ndjson'),
    ),
    guard('dead-letters', 'Dead-lettered records (last hour)', async () => {
      const f = await deadLetterFacts(s3, n.analyticsBucket, c.aggregator.deadLetterPrefix, nowMs);
      return checkDeadLetters(f.objects, f.records, `${n.analyticsBucket}/${c.aggregator.deadLetterPrefix}`);
    }),
    Promise.resolve([
      notApplicable(
        'lag.stream',
        'Input stream iterator age',
        'no CloudWatch metrics locally: see the aggregator lag',
      ),
    ]),
    guard('lag.aggregator', 'Aggregator lag per shard', async () => {
      if (status === undefined) {
        return fail('lag.aggregator', 'Aggregator lag per shard', 'no status.json', 'restart `paypipe up`');
      }
      const w = await shardLag(kinesis, n.inputStream, status, nowMs);
      return checkLag(
        'lag.aggregator',
        'Aggregator lag per shard',
        w.ageMs,
        lag,
        `${plural(status.lag.length, 'shard')}; oldest unprocessed record${w.shard === undefined || w.ageMs === 0 ? '' : ` (${w.shard})`}:`,
      );
    }),
    guard('errors.aggregator', 'Aggregator errors and throttles', async () => {
      const e = await localErrors(t.dataDir, nowMs);
      return [
        checkFunctionErrors(
          'aggregator',
          n.aggregatorFunction,
          e.aggregator ?? { errors: 0 },
          'the last 15 minutes',
        ),
        checkFunctionErrors(
          'producer',
          n.producerFunction,
          e.producer ?? { errors: 0 },
          'the last 15 minutes',
        ),
      ];
    }),
    freshnessChecks(
      s3,
      { raw: n.rawBucket, analytics: n.analyticsBucket },
      nowMs,
      limit,
      enabled,
      (b, pre) => `${b}/${pre}`,
      status === undefined ? undefined : nowMs - Date.parse(status.startedAt),
    ),
    guard('schedule', 'Producer schedule', async () => {
      if (schedule instanceof Error) throw schedule;
      return checkSchedule({ name: 'local scheduler', ...schedule }, c);
    }),
  ]);
  checks.push(...results.flat());
  if (!o.probe) return buildReport('local', d.subject, checks);

  o.progress?.('probe: sending a canary event');
  const probe = await runProbe({
    kinesis,
    s3,
    names: n,
    config: c,
    timeoutMs: o.timeoutMs,
    pollMs: o.pollMs ?? 250,
    now,
    signal: o.signal,
    progress: o.progress,
    debug: o.debug,
  });
  checks.push(probe.check);
  return buildReport('local', d.subject, checks, {
    marker: probe.marker,
    currency: probe.currency,
    windowStart: probe.windowStart,
    hops: probe.hops,
  });
}
