/**
 * The embedded local pipeline, startable programmatically: real Kinesis/S3 API servers
 * (kinesalite, s3rver) in a child process, plus the AWS glue no emulator provides, in-process and
 * driven by the one configuration (resolveConfig): the aggregator's event source mapping, the two
 * Firehose delivery streams, the producer's schedule, function logs and live status.
 *
 * The handlers are the real ones (src/lambdas), built by their factories with clients from
 * src/aws/clients.ts pointed at the local servers; they cannot tell they are not on AWS.
 *
 * Under faults it stays bounded and names what happened: a stop delivers for at most its deadline,
 * then persists what it could not deliver (see StopReport); the faults it cannot run through (its
 * servers' process gone, its data dir removed, a full or read-only disk, a damaged state file) settle
 * `fault` with one line saying what and what to do, instead of a retry loop or a silent stall.
 */
import { describeStreamSummary, type KinesisClient } from '../aws/kinesis.js';
import type { S3Client } from '../aws/s3.js';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { mkdirSync, readFileSync, type Stats, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { addAuthorizer, type HookableClient } from '../aws/client-hooks.js';
import { type ClientTarget, kinesisClient, s3Client } from '../aws/clients.js';
import { type ConfigOverrides, type PipelineConfig, resolveConfig } from '../pipeline/config.js';
import { isPaypipeError, PaypipeError } from '../errors.js';
import type { AggregatorHandler } from '../lambdas/aggregator-handler.js';
import type { ProducerEvent, ProducerResult } from '../lambdas/producer-handler.js';
import { type FunctionRole, type LocalAssembly, readAssembly } from './assembly.js';
import { assemblyFunction, deniedFault, type FunctionIam, initFault } from './assembly-function.js';
import {
  acquireDataDirLock,
  type LocalEndpoints,
  removeLocalEndpoints,
  writeLocalEndpoints,
} from './endpoints.js';
import { EventSourceMapping } from './event-source-mapping.js';
import { guardDataDir, localPaths, storageFault, writeJsonAtomicSync } from './files.js';
import { type AbandonReport, FirehoseDelivery, type ParkedDelivery } from './firehose.js';
import type { Handler, LambdaContextLike, LocalFunction } from './function-runtime.js';
import type { AccessDenial, SdkCall } from './iam.js';
import { defaultSchedule, type LocalSchedule, parseScheduleExpression, Scheduler } from './schedule.js';
import { LOCAL_ACCOUNT_ID, type LocalServers, provisionResources, startLocalServers } from './servers.js';
import type {
  DeliveryStatus,
  LocalFault,
  LocalStatus,
  ParkedStatus,
  RunningFunction,
  StopSummary,
} from './status.js';

export interface LocalPipelineOptions {
  dataDir: string;
  /**
   * The cloud assembly whose function bundles run (a `paypipe synth` output directory): code,
   * handler, environment, memory, timeout and execution-role policies all come from its template.
   */
  assembly: string;
  configOverrides?: ConfigOverrides;
  /** Both Firehose buffer intervals (e.g. 1 s for demos and tests; Firehose's default is 60 s). */
  bufferIntervalSeconds?: number;
  /** false: no scheduled producer (default: the config's schedule). */
  schedule?: boolean | Partial<LocalSchedule>;
  /** Notes from the pipeline itself (warnings, errors its pollers retry past). */
  log?: (line: string) => void;
  /**
   * Test hook: wraps the aggregator's invocations (e.g. to make one batch fail once); the wrapper
   * runs in this process around the bundle's handler in its execution environment.
   */
  wrapAggregator?: (handler: AggregatorHandler) => AggregatorHandler;
  /**
   * How long a poller waits after an empty poll (default 200 ms); the wait doubles while nothing
   * comes, up to maxIdlePollMs (default 1000 ms, about Lambda's own pace), so an idle `up` is cheap.
   */
  idlePollMs?: number;
  maxIdlePollMs?: number;
  /** How often status.json is written (default 1000 ms). */
  statusIntervalMs?: number;
  now?: () => number;
}

export interface WaitForIdleOptions {
  /** Give up with a TIMEOUT error after this long (default 60 s). */
  timeoutMs?: number;
  /** Deliver Firehose buffers at once instead of waiting for their interval. */
  flush?: boolean;
}

/** What a stop left behind. */
export interface StopReport {
  /** Everything read was delivered and checkpointed: nothing is waiting anywhere but on the streams. */
  complete: boolean;
  /** The deadline (or hurry()) cut delivery short. */
  cutShort: boolean;
  /**
   * Per delivery stream that had records in hand: what went to `<dataDir>/pending/<name>/` (the
   * next start delivers it first), and what could not even be saved (it stays on the stream).
   */
  pending: AbandonReport[];
  /**
   * Records the aggregator's poller had read but not finished: they stay on the input stream after
   * its checkpoint (an interrupted batch is recorded as in flight) and are handled first next time.
   */
  unprocessed: number;
  elapsedMs: number;
}

export interface StopOptions {
  /** false: crash (abandon everything, write nothing more, SIGKILL the servers). */
  flush: boolean;
  /**
   * How long delivery may take (default: no limit). Past it, what is still buffered or being
   * delivered is persisted to the data dir instead, and the stop completes.
   */
  deadlineMs?: number;
}

export interface LocalPipeline {
  readonly dataDir: string;
  readonly config: PipelineConfig;
  readonly endpoints: LocalEndpoints;
  readonly target: Extract<ClientTarget, { kind: 'local' }>;
  /** Clients on the local servers (the pipeline's own; do not destroy them). */
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  /** The cloud assembly the functions run from (bundles, settings, roles). */
  readonly assembly: LocalAssembly;
  /**
   * Per function, the local IAM checks of its role: `code` for the calls its bundle makes,
   * `platform` for what Lambda does with the role (event source mapping reads, logs); each records
   * what it was asked (`used`) and what it denied.
   */
  readonly iam: Readonly<Record<FunctionRole, FunctionIam>>;
  status(): LocalStatus;
  /** Invokes the producer function now (as the schedule would). */
  invokeProducer(event?: ProducerEvent): Promise<ProducerResult>;
  /** Asks both Firehose delivery streams to deliver their buffers at the next poll. */
  flush(): void;
  /**
   * Resolves once everything sent so far has gone all the way through: every poller caught up
   * (twice, with no new records in between), nothing pending or in flight, Firehose buffers empty.
   */
  waitForIdle(opts?: WaitForIdleOptions): Promise<void>;
  /**
   * flush: true — clean stop (stop polling, invoke and deliver what was read, save checkpoints,
   * close the servers), bounded by deadlineMs. flush: false — crash: abandon everything in flight,
   * write nothing more, SIGKILL the servers (the next start recovers from the persisted state).
   * Idempotent: a second call returns the first one's promise.
   */
  stop(opts: StopOptions): Promise<StopReport>;
  /** Cuts a running (or the next) stop short now: what is undelivered is persisted at once. */
  hurry(): void;
  /**
   * Settles only when the pipeline cannot go on: its API servers' process exited, its data dir was
   * removed, the disk is full or read-only, a state file is damaged, a delivery loop died. A
   * foreground runner should then stop (flush: false when the data dir is gone) and fail.
   */
  readonly fault: Promise<LocalFault>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function countLines(file: string): number {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '').length;
  } catch {
    return 0;
  }
}

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const dataDir = resolve(opts.dataDir);
  const overrides: ConfigOverrides = {
    ...opts.configOverrides,
    ...(opts.bufferIntervalSeconds === undefined
      ? {}
      : { bufferIntervalSeconds: opts.bufferIntervalSeconds }),
  };
  const config = resolveConfig(overrides);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});
  const paths = localPaths(dataDir);
  const schedule: LocalSchedule =
    opts.schedule === false
      ? { ...defaultSchedule(config), enabled: false }
      : { ...defaultSchedule(config), ...(typeof opts.schedule === 'object' ? opts.schedule : {}) };
  parseScheduleExpression(schedule.expression);

  const release = acquireDataDirLock(dataDir);
  const unguard = guardDataDir(dataDir);
  const dirId = statSync(dataDir);
  const dataDirGone = (): LocalFault => ({
    kind: 'data-dir-lost',
    message: `the data directory ${dataDir} was removed while the local pipeline was running`,
    hint: 'its streams, objects and checkpoints went with it; `paypipe up` starts afresh',
  });
  let servers: LocalServers | undefined;
  let stopped = false;
  const clients: Array<{ destroy(): void }> = [];
  // Functions' execution environments (worker threads), ended with the pipeline.
  const functions: Array<{ close(): Promise<void> }> = [];
  // Started pollers, crashed if the start fails half-way (e.g. a damaged checkpoint further on).
  const started: Array<{ crash(): void }> = [];
  try {
    mkdirSync(paths.logs, { recursive: true });
    servers = await startLocalServers({ dataDir, region: config.region });
    const target: Extract<ClientTarget, { kind: 'local' }> = {
      kind: 'local',
      region: config.region,
      kinesisEndpoint: servers.kinesisEndpoint,
      s3Endpoint: servers.s3Endpoint,
    };
    const kinesis = await kinesisClient(target);
    const s3 = await s3Client(target);
    clients.push(kinesis, s3);
    const provisioned = await provisionResources(config, kinesis, s3);
    if (provisioned.inputShards !== config.streams.input.shardCount) {
      log(
        `note: ${config.streams.input.name} in ${dataDir} already has ${provisioned.inputShards} shards; keeping them (use a new --data-dir for ${config.streams.input.shardCount})`,
      );
    }
    const arnOf = async (name: string): Promise<string> =>
      (await describeStreamSummary(kinesis, name))?.arn ??
      `arn:aws:kinesis:${config.region}:${LOCAL_ACCOUNT_ID}:stream/${name}`;
    const inputArn = await arnOf(config.streams.input.name);

    const endpoints: LocalEndpoints = {
      pid: process.pid,
      kinesisEndpoint: servers.kinesisEndpoint,
      s3Endpoint: servers.s3Endpoint,
      region: config.region,
      serverPid: servers.pid,
      startedAt: new Date(now()).toISOString(),
      configOverrides: overrides,
    };

    // The first fault wins; the runner decides how to stop.
    let faultInfo: LocalFault | undefined;
    let settleFault: (f: LocalFault) => void = () => {};
    const fault = new Promise<LocalFault>((res) => {
      settleFault = res;
    });
    // Not logged here: the runner stops and reports the fault (one line, not a warning and an error).
    const raise = (f: LocalFault): void => {
      if (faultInfo !== undefined || stopped) return;
      faultInfo = f;
      settleFault(f);
    };
    const faultOf = (e: unknown, what: string): LocalFault => {
      const sf = storageFault(e);
      if (sf?.code === 'EDATADIRGONE') return dataDirGone();
      if (sf !== undefined) {
        return {
          kind: 'storage',
          message: `${what}: ${sf.what} (${sf.code}) writing ${sf.path ?? `in ${dataDir}`}`,
          hint: `free space (or make ${dataDir} writable) and run \`paypipe up\` again: nothing acknowledged is lost, unhandled records stay on the streams`,
        };
      }
      if (isPaypipeError(e))
        return { kind: 'state', message: e.message, hint: e.hint ?? `see ${paths.logs}` };
      return {
        kind: 'internal',
        message: `${what} stopped: ${e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e)}`,
        hint: 'state is checkpointed: `paypipe up` again resumes; report it if it happens again',
      };
    };
    const isFatal = (e: unknown): boolean =>
      storageFault(e) !== undefined || (isPaypipeError(e) && e.code === 'DATA');

    // Errors the pollers retry past: noted once per distinct message per 30 s, not per poll.
    let lastError: string | undefined;
    const noted = new Map<string, number>();
    const onError = (what: string) => (e: unknown) => {
      const msg = `${what}: ${e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e)}`;
      lastError = msg;
      // A full disk or a damaged state file does not get better by retrying: stop and say so.
      if (isFatal(e)) return raise(faultOf(e, what));
      const t = noted.get(msg);
      if (t === undefined || now() - t > 30_000) {
        noted.set(msg, now());
        log(`warning: ${msg} (retrying)`);
      }
    };
    const parkedFix = (p: ParkedDelivery): string =>
      p.kind === 'bucket-missing'
        ? `recreate it (AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${servers?.s3Endpoint} s3 mb s3://${p.bucket}), or stop and start \`paypipe up\` (it creates missing buckets); delivery resumes on its own`
        : `see ${paths.serverLog} and \`paypipe logs --local\`; delivery resumes on its own once S3 accepts it`;
    const onPark =
      (name: string) =>
      (p: ParkedDelivery | undefined): void => {
        if (p === undefined) log(`note: ${name}: deliveries resumed`);
        else log(`warning: ${name}: deliveries parked: ${p.reason}; retrying every second — ${parkedFix(p)}`);
      };

    // The functions: the cloud assembly's bundles, each in its own execution environments, with
    // the template's handler, environment, memory and timeout, and its role's policies enforced.
    const assembly = readAssembly(opts.assembly, {
      region: config.region,
      accountId: LOCAL_ACCOUNT_ID,
      config,
    });
    const deadLetters = new Map<string, number>();
    const denials: AccessDenial[] = [];
    const checkers = {} as Record<FunctionRole, FunctionIam>;
    const runningFunctions = {} as Record<FunctionRole, RunningFunction>;
    const localFunction = <E, R>(
      role: FunctionRole,
      extra: { wrap?: (h: Handler<E, R>) => Handler<E, R>; onCall?: (call: SdkCall) => void },
    ): LocalFunction<E, R> => {
      const built = assemblyFunction<E, R>({
        assembly,
        role,
        config,
        endpoints: servers as LocalServers,
        dataDir,
        sourceStreamArn: inputArn,
        onDenied: (who, d) => {
          denials.push(d);
          log(`error: AccessDenied: ${d.message}`);
          raise(deniedFault(assembly, role, who, d));
        },
        onLogDenied: (d) => log(`warning: ${d.message} (on AWS this function's logs would be dropped)`),
        onInitError: (e) => {
          log(`error: ${assembly.functions[role].functionName}: ${e.errorType}: ${e.errorMessage}`);
          raise(initFault(assembly, role, e));
        },
        ...extra,
        now,
      });
      checkers[role] = built.iam;
      runningFunctions[role] = built.running;
      return built.fn;
    };
    const aggregatorWrap = opts.wrapAggregator;
    const aggregator = localFunction<KinesisStreamEvent, KinesisStreamBatchResponse>('aggregator', {
      ...(aggregatorWrap === undefined
        ? {}
        : {
            wrap: (h) => {
              const w = aggregatorWrap((event, context) => h(event, context as LambdaContextLike));
              return (event, context) => w(event, context);
            },
          }),
      // Dead letters counted from the aggregator's successful puts (by key: a rewrite counts once).
      onCall: (call) => {
        const i = call.input;
        if (
          call.commandName === 'PutObjectCommand' &&
          i.Bucket === config.buckets.analytics &&
          i.Key?.startsWith(config.aggregator.deadLetterPrefix) === true &&
          i.Body !== undefined
        ) {
          deadLetters.set(i.Key, i.Body.split('\n').filter((l) => l.trim() !== '').length);
        }
      },
    });
    const producer = localFunction<ProducerEvent, ProducerResult>('producer', {});
    functions.push(aggregator, producer);
    // One environment per shard: the mapping invokes each shard's batches concurrently.
    aggregator.warm(provisioned.inputShards);
    const producerStats = { eventsSent: 0, eventsFailed: 0, lastError: undefined as string | undefined };
    const invokeProducer = async (event: ProducerEvent = {}): Promise<ProducerResult> => {
      try {
        const r = await producer.invoke(event);
        producerStats.eventsSent += r.sent;
        producerStats.eventsFailed += r.failed;
        producerStats.lastError = undefined;
        return r;
      } catch (e) {
        producerStats.lastError = e instanceof Error ? e.message : String(e);
        throw e;
      }
    };

    const idlePollMs = opts.idlePollMs ?? 200;
    const maxIdlePollMs = opts.maxIdlePollMs ?? 1000;
    // The mapping reads with the function's execution role, as Lambda's poller does.
    const esmKinesis = await kinesisClient(target);
    clients.push(esmKinesis);
    addAuthorizer(esmKinesis as unknown as HookableClient, (call) =>
      checkers.aggregator.platform.authorize(call),
    );
    const esm = new EventSourceMapping({
      kinesis: esmKinesis,
      streamName: config.streams.input.name,
      streamArn: inputArn,
      region: config.region,
      functionArn: aggregator.arn,
      roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${config.aggregator.functionName}-role`,
      settings: config.aggregator,
      stateDir: join(paths.checkpoints, `esm-${config.aggregator.functionName}`),
      dataDir,
      invoke: (event) => aggregator.invoke(event),
      now,
      idlePollMs,
      maxIdlePollMs,
      onError: (e, shard) => onError(`aggregator poller (${shard})`)(e),
    });
    const raw = new FirehoseDelivery({
      kinesis,
      s3,
      sourceStream: config.streams.input.name,
      bucket: config.buckets.raw,
      settings: config.firehose.raw,
      stateFile: join(paths.checkpoints, `firehose-${config.firehose.raw.name}.json`),
      pendingDir: join(paths.pending, config.firehose.raw.name),
      now,
      idlePollMs,
      maxIdlePollMs,
      onError: onError(config.firehose.raw.name),
      onFatal: (e) => raise(faultOf(e, config.firehose.raw.name)),
      onPark: onPark(config.firehose.raw.name),
    });
    const analytics = new FirehoseDelivery({
      kinesis,
      s3,
      sourceStream: config.streams.output.name,
      bucket: config.buckets.analytics,
      settings: config.firehose.analytics,
      stateFile: join(paths.checkpoints, `firehose-${config.firehose.analytics.name}.json`),
      pendingDir: join(paths.pending, config.firehose.analytics.name),
      now,
      idlePollMs,
      maxIdlePollMs,
      onError: onError(config.firehose.analytics.name),
      onFatal: (e) => raise(faultOf(e, config.firehose.analytics.name)),
      onPark: onPark(config.firehose.analytics.name),
    });
    const failedAtStart = countLines(paths.failedBatches);
    for (const c of [esm, raw, analytics]) {
      started.push(c);
      await c.start();
    }
    writeLocalEndpoints(dataDir, endpoints);

    const scheduler = new Scheduler(
      dataDir,
      schedule,
      async (count) => {
        await invokeProducer({ count });
      },
      now,
    );
    scheduler.start();

    const delivery = (f: FirehoseDelivery): DeliveryStatus => {
      const p = f.parked();
      const parked: ParkedStatus | undefined = p === undefined ? undefined : { ...p, fix: parkedFix(p) };
      return {
        name: f.name,
        recordsDelivered: f.stats.recordsDelivered,
        objectsWritten: f.stats.objectsWritten,
        bufferedRecords: f.bufferedRecords(),
        deliveryErrors: f.stats.deliveryErrors,
        errorObjects: f.stats.errorObjects,
        lastObjectKey: f.stats.lastObjectKey,
        pendingObjects: f.pendingObjects(),
        ...(parked === undefined ? {} : { parked }),
      };
    };
    let running = true;
    let stoppedSummary: StopSummary | undefined;
    const status = (): LocalStatus => ({
      pid: process.pid,
      dataDir,
      startedAt: endpoints.startedAt,
      updatedAt: new Date(now()).toISOString(),
      running,
      endpoints: { kinesis: endpoints.kinesisEndpoint, s3: endpoints.s3Endpoint },
      eventsIn: esm.stats.recordsIn,
      aggregatesOut: analytics.stats.recordsDelivered,
      rawEventsDelivered: raw.stats.recordsDelivered,
      deadLettered: [...deadLetters.values()].reduce((a, b) => a + b, 0),
      failedBatches: failedAtStart + esm.stats.failedBatches,
      lag: esm.lag(),
      aggregator: {
        invocations: aggregator.invocations,
        errors: aggregator.errors,
        retries: esm.stats.retries,
        partialFailures: esm.stats.partialFailures,
        bisections: esm.stats.bisections,
        expiredRecords: esm.stats.expiredRecords,
        recoveredInFlight: esm.stats.recoveredInFlight,
      },
      producer: { invocations: producer.invocations, ...producerStats },
      firehose: { raw: delivery(raw), analytics: delivery(analytics) },
      schedule: { ...scheduler.status },
      functions: runningFunctions,
      assembly: assembly.dir,
      ...(denials.length === 0
        ? {}
        : {
            accessDenied: denials.map((d) => ({
              functionName: d.functionName,
              action: d.action,
              resource: d.resource,
              message: d.message,
            })),
          }),
      lastError,
      ...(faultInfo === undefined ? {} : { fault: faultInfo }),
      ...(stoppedSummary === undefined ? {} : { stopped: stoppedSummary }),
    });
    const writeStatus = (): void => {
      try {
        writeJsonAtomicSync(paths.status, status());
      } catch (e) {
        onError('status.json')(e);
      }
    };
    writeStatus();
    const statusTimer = setInterval(writeStatus, opts.statusIntervalMs ?? 1000);
    statusTimer.unref();

    // The data dir removed (or replaced) under us: every write would fail or recreate half of it.
    const dirWatch = setInterval(() => {
      let now: Stats | undefined;
      try {
        now = statSync(dataDir);
      } catch {
        now = undefined;
      }
      if (now === undefined || now.ino !== dirId.ino || now.dev !== dirId.dev) raise(dataDirGone());
    }, 250);
    dirWatch.unref();

    const consumers = [esm, raw, analytics];
    let stopping: Promise<StopReport> | undefined;
    let hurried = false;
    let hurryNow = (): void => {
      hurried = true;
    };
    const closeAll = async (graceMs: number): Promise<void> => {
      // A log stream on a full disk may never finish closing: do not wait on it for ever.
      await Promise.race([
        Promise.allSettled([aggregator.close(), producer.close()]),
        new Promise((r) => setTimeout(r, graceMs).unref()),
      ]);
      for (const c of clients) c.destroy();
      await servers?.stop(graceMs);
      try {
        removeLocalEndpoints(dataDir);
      } catch {
        // Gone with the data dir, or unreadable: nothing of ours to remove.
      }
      unguard();
      release();
    };
    const doStop = async ({ flush, deadlineMs }: StopOptions): Promise<StopReport> => {
      const started = performance.now();
      stopped = true;
      clearInterval(statusTimer);
      clearInterval(dirWatch);
      if (!flush) {
        void scheduler.stop();
        esm.crash();
        raw.crash();
        analytics.crash();
        void aggregator.close();
        void producer.close();
        await servers?.kill();
        for (const c of clients) c.destroy();
        // What a dead process leaves is a stale endpoints file; in-process we remove it instead
        // (its pid, ours, is alive).
        try {
          removeLocalEndpoints(dataDir);
        } catch {
          // The data dir is gone.
        }
        unguard();
        release();
        const unprocessed = esm.lag().reduce((n, l) => n + l.pendingRecords, 0);
        return { complete: false, cutShort: true, pending: [], unprocessed, elapsedMs: 0 };
      }
      // Every phase races the deadline; past it, nothing more is delivered, what is left is saved.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((res) => {
        hurryNow = res;
        if (hurried) res();
        else if (deadlineMs !== undefined) timer = setTimeout(res, Math.max(0, deadlineMs));
      });
      let cut = false;
      const within = async (p: Promise<unknown>): Promise<void> => {
        if (cut) return;
        const done = await Promise.race([
          p.then(
            () => true,
            () => true,
          ),
          deadline.then(() => false),
        ]);
        if (!done) cut = true;
      };
      await within(scheduler.stop());
      // The raw stream reads the input stream: it drains alongside the aggregator. The analytics
      // stream reads what the aggregator writes: it drains after it.
      const rawDrained = raw.stop();
      await within(esm.stop());
      await within(Promise.all([rawDrained, analytics.stop()]));
      // Before crash(): the poller's own count of records read and not finished.
      const unprocessed = cut ? esm.lag().reduce((n, l) => n + l.pendingRecords, 0) : 0;
      // Cut short or not, the deadline must not keep the process alive.
      clearTimeout(timer);
      let pending: AbandonReport[] = [];
      if (cut) {
        // The aggregator's state is on disk after every step; an interrupted batch is in flight
        // there and is invoked again, the same batch, next time.
        esm.crash();
        pending = [raw.abandon(), analytics.abandon()].filter(
          (r) => r.records > 0 || r.unsaved !== undefined,
        );
      }
      running = false;
      const report: StopReport = {
        complete: !cut || (unprocessed === 0 && pending.length === 0),
        cutShort: cut,
        pending,
        unprocessed,
        elapsedMs: Math.round(performance.now() - started),
      };
      stoppedSummary = {
        at: new Date(now()).toISOString(),
        complete: report.complete,
        cutShort: report.cutShort,
        unprocessed,
        pending: pending.map((p) => ({
          deliveryStream: p.name,
          records: p.records,
          objects: p.objects,
          dir: p.dir,
          ...(p.unsaved === undefined ? {} : { unsaved: p.unsaved }),
          ...(p.reason === undefined ? {} : { reason: p.reason }),
        })),
      };
      if (faultInfo?.kind !== 'data-dir-lost') writeStatus();
      await closeAll(cut ? 1000 : 5000);
      return report;
    };

    const lostServers = servers;
    void lostServers.exited.then((how) => {
      raise({
        kind: 'servers-lost',
        message: `the local API servers (process ${lostServers.pid}) exited unexpectedly (${how})`,
        hint: `see ${paths.serverLog}; state is checkpointed, \`paypipe up\` again resumes`,
      });
    });

    const handle: LocalPipeline = {
      fault,
      assembly,
      iam: checkers,
      dataDir,
      config,
      endpoints,
      target,
      kinesis,
      s3,
      status,
      invokeProducer,
      flush: () => {
        raw.requestFlush();
        analytics.requestFlush();
      },
      waitForIdle: async (o = {}) => {
        const deadline = now() + (o.timeoutMs ?? 60_000);
        const activity = (): number => esm.stats.recordsIn + raw.stats.recordsIn + analytics.stats.recordsIn;
        const allIdle = (): boolean => consumers.every((c) => c.isIdle()) && scheduler.busy() === false;
        for (;;) {
          if (stopped)
            throw new PaypipeError('INTERNAL', 'the local pipeline was stopped while waiting for it');
          if (now() > deadline) {
            const s = status();
            throw new PaypipeError(
              'TIMEOUT',
              `the local pipeline did not go idle within ${Math.round((o.timeoutMs ?? 60_000) / 1000)} s (events in ${s.eventsIn}, aggregates out ${s.aggregatesOut})`,
              { hint: s.lastError === undefined ? `see ${paths.logs}` : `last error: ${s.lastError}` },
            );
          }
          if (o.flush === true) handle.flush();
          if (allIdle()) {
            const before = activity();
            const polls = consumers.map((c) => c.pollCount());
            // Two fresh polls of every consumer, with nothing new read, prove the chain is drained.
            while (
              !stopped &&
              now() <= deadline &&
              consumers.some((c, i) => c.pollCount() < (polls[i] as number) + 2)
            ) {
              await sleep(20);
            }
            if (allIdle() && activity() === before) return;
          }
          await sleep(25);
        }
      },
      stop: (o) => {
        // Idempotent: a second call (e.g. a test's cleanup) waits for the first.
        stopping ??= doStop(o);
        return stopping;
      },
      hurry: () => hurryNow(),
    };
    return handle;
  } catch (e) {
    stopped = true;
    for (const c of started) c.crash();
    for (const f of functions) void f.close();
    for (const c of clients) c.destroy();
    await servers?.stop().catch(() => {});
    unguard();
    release();
    throw e;
  }
}
