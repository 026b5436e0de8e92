/**
 * DoctorFacts from the local pipeline (`paypipe up`, `--local`): the process and its servers,
 * the streams on kinesalite, the emulated Firehose deliveries and poller (status.json), the
 * failed-batch file, dead letters and the newest objects on s3rver, per-shard lag read from the
 * stream, function errors from the local log files, the local scheduler and the probe.
 * AWS-only questions (IAM, region, CloudFormation, the mapping's deployed settings) are
 * `not-here`, so their checks say n/a.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kinesisClient, s3Client } from '../../aws/clients.js';
import { httpStatus } from '../../aws/errors.js';
import { describeStreamSummary, getRecords, getShardIterator } from '../../aws/kinesis.js';
import { listObjects } from '../../aws/s3.js';
import { isPaypipeError } from '../../errors.js';
import { PREFIXES } from '../../pipeline/config.js';
import { parseLogMessage } from '../../pipeline/log-format.js';
import type { LocalStatus } from '../../local/status.js';
import { DEFAULT_DATA_DIR, type TargetFlags } from '../options.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import type { BundlesFact, DoctorFacts, Fact, FunctionErrorsFact, LagFact } from './facts.js';
import {
  errLine,
  type GatherOptions,
  gather,
  invocationOf,
  type Kinesis,
  knownFact,
  limitsOf,
  notHere,
  probeOptions,
  type S3,
  skipped,
  stoppedFacts,
} from './gather-common.js';
import { deadLetterFact, newestObject, streamFact } from './common-facts.js';
import { runProbe } from './probe.js';
import { plural } from './thresholds.js';

type LocalTarget = Extract<ResolvedTarget, { kind: 'local' }>;

const ERRORS_PERIOD_MS = 15 * 60_000;
/** doctor reads the last hour of metrics. */
const METRICS_WINDOW_MS = 3_600_000;

export interface LocalGatherDeps {
  /** The clock ages are measured with (tests move it forward instead of sleeping). */
  now?: () => number;
  /** Where the last `paypipe synth` output (cdk.out) is looked for (default: the working directory). */
  cwd?: string;
}

/** The AWS-only facts, with the reason each means nothing here. */
const AWS_ONLY = {
  identity: notHere<never>('local pipeline: no AWS account involved'),
  region: notHere<never>('local pipeline: one embedded region'),
  stack: notHere<never>('local pipeline: no CloudFormation stack'),
  tables: notHere<never>(
    'local pipeline: no Glue catalog; a local query reads the objects under the same prefixes directly',
  ),
};

export async function gatherLocal(
  flags: TargetFlags,
  o: GatherOptions,
  deps: LocalGatherDeps = {},
): Promise<DoctorFacts> {
  const now = deps.now ?? Date.now;
  const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const base = {
    target: 'local' as const,
    subject: `local pipeline in ${dataDir}`,
    invocation: invocationOf({ ...flags, local: true }),
    limits: limitsOf(o),
  };
  let t: LocalTarget;
  try {
    const r = await resolveTarget({ ...flags, local: true });
    if (r.kind !== 'local') throw new Error('unreachable: local target expected');
    t = r;
  } catch (e) {
    if (!isPaypipeError(e)) throw e;
    const { resolveConfig } = await import('../../pipeline/config.js');
    const { readLocalStatus } = await import('../../local/status.js');
    const last = await readLocalStatus(dataDir).catch(() => undefined);
    return {
      ...stoppedFacts({ ...base, config: resolveConfig({}) }, 'the local pipeline is not running'),
      ...AWS_ONLY,
      localPipeline: knownFact({ running: false, reason: e.message, lastStatusAt: last?.updatedAt }),
    };
  }

  // Few attempts: a dead server should read as "down" in seconds, not after a minute of retries.
  const kinesis = await kinesisClient(t.clientTarget, { maxAttempts: 2 });
  const s3 = await s3Client(t.clientTarget, { maxAttempts: 2 });
  try {
    return await gatherRunning(
      t,
      o,
      { ...base, config: t.config },
      { kinesis, s3, now, cwd: deps.cwd ?? process.cwd() },
    );
  } finally {
    kinesis.destroy();
    s3.destroy();
  }
}

async function gatherRunning(
  t: LocalTarget,
  o: GatherOptions,
  base: Pick<DoctorFacts, 'target' | 'subject' | 'config' | 'invocation' | 'limits'>,
  d: { kinesis: Kinesis; s3: S3; now: () => number; cwd: string },
): Promise<DoctorFacts> {
  const { kinesis, s3 } = d;
  const c = t.config;
  const n = t.names;
  const running = {
    ...AWS_ONLY,
    localPipeline: knownFact({ running: true as const, pid: t.pid, dataDir: t.dataDir }),
  };
  const logFile = join(t.dataDir, 'servers.log');
  const servers = {
    kinesisEndpoint: t.clientTarget.kinesisEndpoint,
    s3Endpoint: t.clientTarget.s3Endpoint,
    logFile,
  };
  try {
    await pingServers(kinesis, s3, t.names);
  } catch (e) {
    o.debug?.(`local servers: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return {
      ...stoppedFacts(base, 'the local servers do not answer'),
      ...running,
      localServers: knownFact({ ...servers, error: errLine(e) }),
    };
  }

  const nowMs = d.now();
  const { readLocalStatus } = await import('../../local/status.js');
  const { listFailedBatches } = await import('../../local/failed-batches.js');
  const { readLocalSchedule } = await import('../../local/schedule.js');
  const status = await gather(o, 'status.json', async () => {
    const s = await readLocalStatus(t.dataDir);
    if (s === undefined) throw new Error(`no status.json in ${t.dataDir}`);
    return s;
  });
  const fromStatus = <T>(f: (s: LocalStatus) => T): Fact<T> =>
    status.known ? knownFact(f(status.value)) : status;

  const [
    input,
    output,
    failedBatches,
    deadLetters,
    aggregatorLag,
    errors,
    raw,
    aggregations,
    schedule,
    metrics,
  ] = await Promise.all([
    gather(o, 'input stream', () => streamFact(kinesis, n.inputStream)),
    gather(o, 'output stream', () => streamFact(kinesis, n.outputStream)),
    gather(o, 'failed batches', async () => ({
      where: 'failed-batches.ndjson',
      count: (await listFailedBatches(t.dataDir)).length,
    })),
    gather(o, 'dead letters', () =>
      deadLetterFact(
        s3,
        n.analyticsBucket,
        c,
        nowMs,
        `${n.analyticsBucket}/${c.aggregator.deadLetterPrefix}`,
      ),
    ),
    status.known
      ? gather(o, 'aggregator lag', () => shardLag(kinesis, n.inputStream, status.value, nowMs))
      : Promise.resolve(status),
    gather(o, 'local logs', () => localErrors(t.dataDir, nowMs)),
    gather(o, 'raw objects', () =>
      newestObject(s3, n.rawBucket, PREFIXES.raw, nowMs, `${n.rawBucket}/${PREFIXES.raw}`),
    ),
    gather(o, 'aggregate objects', () =>
      newestObject(
        s3,
        n.analyticsBucket,
        PREFIXES.aggregations,
        nowMs,
        `${n.analyticsBucket}/${PREFIXES.aggregations}`,
      ),
    ),
    gather(o, 'schedule.json', async () => ({
      name: 'local scheduler',
      ...(await readLocalSchedule(t.dataDir)),
    })),
    gather(o, 'local metrics', async () => {
      const { localPipelineMetrics } = await import('../pipeline-metrics.js');
      return localPipelineMetrics(t.dataDir, c, { startMs: nowMs - METRICS_WINDOW_MS, endMs: nowMs + 1 });
    }),
  ]);

  const delivery = (role: 'raw' | 'analytics') =>
    fromStatus((s) => ({
      kind: 'local' as const,
      ...s.firehose[role],
      s3Endpoint: s.endpoints.s3,
      running: s.running,
      logFile,
      lastError: s.lastError,
    }));
  const errorsOf = (fn: 'producer' | 'aggregator', name: string): Fact<FunctionErrorsFact> =>
    errors.known
      ? knownFact({ functionName: name, periodMs: ERRORS_PERIOD_MS, ...(errors.value[fn] ?? { errors: 0 }) })
      : errors;

  const facts: DoctorFacts = {
    ...base,
    ...running,
    localServers: knownFact(servers),
    stackOutputs: skipped('local pipeline: names come from the configuration'),
    streams: { input, output },
    delivery: { raw: delivery('raw'), analytics: delivery('analytics') },
    consumer: fromStatus((s) => ({
      kind: 'poller' as const,
      running: s.running,
      pid: s.pid,
      statusAgeMs: nowMs - Date.parse(s.updatedAt),
      shards: s.lag.length,
      recordsRead: s.eventsIn,
      invocations: s.aggregator.invocations,
      retries: s.aggregator.retries,
    })),
    failedBatches,
    deadLetters,
    lag: {
      stream: notHere('no CloudWatch metrics locally: see the aggregator lag'),
      aggregator: aggregatorLag,
    },
    errors: {
      aggregator: errorsOf('aggregator', n.aggregatorFunction),
      producer: errorsOf('producer', n.producerFunction),
    },
    newest: { raw, aggregations },
    pipelineAgeMs: fromStatus((s) => nowMs - Date.parse(s.startedAt)),
    schedule,
    metrics,
    probe: skipped('no --probe'),
    bundles: status.known ? await gather(o, 'bundles', () => bundlesFact(status.value, t, d.cwd)) : status,
  };
  if (!o.probe) return facts;
  o.progress?.('probe: sending a canary event');
  const probe = await gather(o, 'probe', () =>
    runProbe({ kinesis, s3, names: n, config: c, ...probeOptions(o, 250) }),
  );
  return { ...facts, probe };
}

/**
 * The bundles the running functions loaded (status.json) and, when this directory has one, the last
 * `paypipe synth` output (cdk.out): the same bundle bytes there mean a deploy of it uploads the code
 * that runs here.
 */
async function bundlesFact(s: LocalStatus, t: LocalTarget, cwd: string): Promise<BundlesFact> {
  const functions = Object.entries(s.functions ?? {}).map(([role, f]) => ({
    role,
    functionName: f.functionName,
    bundleHash: f.bundleHash,
    assetHash: f.assetHash,
  }));
  const fact: BundlesFact = {
    assembly: s.assembly ?? '(unknown: a pipeline from an older paypipe)',
    functions,
    accessDenied: s.accessDenied?.length ?? 0,
  };
  const dir = resolve(cwd, 'cdk.out');
  if (!existsSync(join(dir, 'manifest.json'))) return fact;
  const { readAssembly } = await import('../../local/assembly.js');
  try {
    const a = readAssembly(dir, { region: t.region, accountId: '000000000000', config: t.config });
    return {
      ...fact,
      lastSynth: {
        dir: 'cdk.out',
        synthesizedAt: statSync(join(dir, 'manifest.json')).mtime.toISOString(),
        bundleHashes: {
          producer: a.functions.producer.bundleHash,
          aggregator: a.functions.aggregator.bundleHash,
        },
      },
    };
  } catch (e) {
    return {
      ...fact,
      lastSynth: {
        dir: 'cdk.out',
        problem: e instanceof Error ? e.message.replace(`${dir} `, '') : String(e),
      },
    };
  }
}

/**
 * Both servers answer: any HTTP answer counts (a missing stream or bucket is another check's
 * business); no answer at all (refused, reset, timed out) is a server down.
 */
async function pingServers(kinesis: Kinesis, s3: S3, n: { inputStream: string; rawBucket: string }) {
  const answered = (e: unknown): boolean => {
    for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; depth++) {
      if (httpStatus(x) !== undefined) return true;
      x = (x as { cause?: unknown }).cause;
    }
    return false;
  };
  const ping = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => {
        if (!answered(e)) throw e;
      },
    );
  await Promise.all([
    ping(describeStreamSummary(kinesis, n.inputStream)),
    ping(listObjects(s3, n.rawBucket, ['doctor-ping/'])),
  ]);
}

/** Arrival time of the first record after `afterSequence` on a shard (from its start when undefined). */
async function firstArrivalAfter(
  kinesis: Kinesis,
  stream: string,
  shardId: string,
  afterSequence: string | undefined,
): Promise<number | undefined> {
  const it = await getShardIterator(
    kinesis,
    stream,
    shardId,
    afterSequence === undefined
      ? { type: 'TRIM_HORIZON' }
      : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: afterSequence },
  );
  if (it === undefined) return undefined;
  const first = (await getRecords(kinesis, shardId, it, 1)).records[0];
  return first === undefined || first.arrivalMs === 0 ? undefined : first.arrivalMs;
}

/**
 * Age of the oldest record the aggregator has not finished, worst shard: read from the stream
 * itself right after the poller's checkpoint, so a hung or stopped poller shows as growing lag.
 */
async function shardLag(kinesis: Kinesis, stream: string, s: LocalStatus, nowMs: number): Promise<LagFact> {
  let worst: { ageMs: number; shard: string } | undefined;
  for (const l of s.lag) {
    const first = await firstArrivalAfter(kinesis, stream, l.shardId, l.checkpoint);
    const age = Math.max(
      first === undefined ? 0 : Math.max(0, nowMs - first),
      l.millisBehindLatest,
      l.pendingAgeMs,
    );
    if (worst === undefined || age > worst.ageMs) worst = { ageMs: age, shard: l.shardId };
  }
  const which = worst === undefined || worst.ageMs === 0 ? '' : ` (${worst.shard})`;
  return {
    label: `${plural(s.lag.length, 'shard')}; oldest unprocessed record${which}:`,
    ageMs: worst?.ageMs ?? 0,
  };
}

/** Invocations and failed invocations per function in the last 15 minutes, from the local log files. */
async function localErrors(dataDir: string, nowMs: number) {
  const { localLogTails } = await import('../../local/log-files.js');
  const out: Record<string, { invocations: number; errors: number }> = {};
  for (const tail of localLogTails(join(dataDir, 'logs'), ['producer', 'aggregator'])) {
    const counts = { invocations: 0, errors: 0 };
    for (const e of await tail.readNew()) {
      if (e.timestamp < nowMs - ERRORS_PERIOD_MS) continue;
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
