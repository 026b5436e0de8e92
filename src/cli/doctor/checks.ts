/**
 * `paypipe doctor`'s judgement, separated from the gathering: every check is a pure function from
 * facts (what AWS or the local pipeline said) to a result — pass / warn / fail / n/a, one line of
 * evidence, and for anything not passing, the fix. The event source mapping lint compares the
 * deployed mapping AGAINST the pipeline configuration (src/pipeline/config.ts), so drift shows up here.
 *
 * Pure: facts and "now" come in as arguments.
 */
import type { AggregatorSettings, PipelineConfig, StreamSettings } from '../../pipeline/config.js';
import type { Paint } from '../../pipeline/log-format.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'n/a';

export interface CheckResult {
  /** Stable id for scripts (`--json`), e.g. `esm.retries`. */
  id: string;
  title: string;
  status: CheckStatus;
  /** One line: what was seen. */
  evidence: string;
  /** What to do; present whenever status is warn or fail. */
  fix?: string | undefined;
}

export interface ProbeSummary {
  marker: string;
  currency: string;
  windowStart: string;
  hops: ProbeHop[];
}

export interface DoctorReport {
  target: 'aws' | 'local';
  /** What was checked: `stack paypipe-dev in ap-southeast-2`, `local pipeline in /path`. */
  subject: string;
  checks: CheckResult[];
  probe?: ProbeSummary | undefined;
  counts: Record<CheckStatus, number>;
  /** False when any check failed (exit 1). */
  ok: boolean;
}

const result = (
  id: string,
  title: string,
  status: CheckStatus,
  evidence: string,
  fix?: string,
): CheckResult =>
  fix === undefined || status === 'pass' || status === 'n/a'
    ? { id, title, status, evidence }
    : { id, title, status, evidence, fix };

export const pass = (id: string, title: string, evidence: string): CheckResult =>
  result(id, title, 'pass', evidence);
export const warn = (id: string, title: string, evidence: string, fix: string): CheckResult =>
  result(id, title, 'warn', evidence, fix);
export const fail = (id: string, title: string, evidence: string, fix: string): CheckResult =>
  result(id, title, 'fail', evidence, fix);
/** A check that has no meaning for this target (e.g. IAM credentials locally): never a pass. */
export const notApplicable = (id: string, title: string, why: string): CheckResult =>
  result(id, title, 'n/a', why);

export function buildReport(
  target: 'aws' | 'local',
  subject: string,
  checks: CheckResult[],
  probe?: ProbeSummary,
): DoctorReport {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, 'n/a': 0 };
  for (const c of checks) counts[c.status]++;
  return {
    target,
    subject,
    checks,
    ...(probe === undefined ? {} : { probe }),
    counts,
    ok: counts.fail === 0,
  };
}

const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** 950 ms, 42 s, 3 min 5 s, 2 h 10 min. */
export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 === 0 ? '' : ` ${m % 60} min`}`;
}

// ---------------------------------------------------------------------------------------------
// Account, region, stack

export type IdentityFact = { ok: true; account: string; arn: string } | { ok: false; error: string };

export function checkCredentials(f: IdentityFact): CheckResult {
  const title = 'AWS credentials';
  if (f.ok) return pass('credentials', title, `${f.arn} (account ${f.account})`);
  return fail(
    'credentials',
    title,
    `STS GetCallerIdentity failed: ${f.error}`,
    'configure credentials (aws configure, aws sso login, or --profile NAME) and run doctor again; no AWS account? try `paypipe doctor --local`',
  );
}

export function checkRegion(region: string, source: string): CheckResult {
  return pass('region', 'Region', `${region} (${source})`);
}

const STACK_OK = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

export function checkStack(stackName: string, status: string | undefined, reason?: string): CheckResult {
  const title = 'Stack deployed';
  if (status === undefined) {
    return fail(
      'stack',
      title,
      `stack ${stackName} not found`,
      'deploy it with `paypipe deploy` (or pass --stack/--env/--region for the right one)',
    );
  }
  if (STACK_OK.has(status)) return pass('stack', title, `${stackName}: ${status}`);
  const why = reason === undefined || reason === '' ? '' : ` — ${reason}`;
  if (status.endsWith('_IN_PROGRESS') && !status.includes('ROLLBACK') && !status.startsWith('DELETE')) {
    return warn('stack', title, `${stackName}: ${status}${why}`, 'wait for the deployment to finish');
  }
  return fail(
    'stack',
    title,
    `${stackName}: ${status}${why}`,
    status === 'UPDATE_ROLLBACK_COMPLETE'
      ? 'the last deploy was rolled back: fix the cause shown in the stack events and run `paypipe deploy` again'
      : 'look at the stack events in CloudFormation, fix the cause and run `paypipe deploy`',
  );
}

// ---------------------------------------------------------------------------------------------
// Streams and delivery streams

export interface StreamFact {
  name: string;
  /** undefined when the stream does not exist. */
  status?: string | undefined;
  openShards?: number | undefined;
  mode?: string | undefined;
}

export function checkStream(role: 'input' | 'output', f: StreamFact, expected: StreamSettings): CheckResult {
  const id = `stream.${role}`;
  const title = `Kinesis ${role} stream`;
  if (f.status === undefined) {
    return fail(
      id,
      title,
      `${f.name} does not exist`,
      'deploy the stack (`paypipe deploy`) or start `paypipe up`',
    );
  }
  const shape = [
    f.status,
    f.openShards === undefined ? undefined : plural(f.openShards, 'open shard'),
    f.mode,
  ].filter((x) => x !== undefined);
  const evidence = `${f.name}: ${shape.join(', ')}`;
  if (f.status === 'UPDATING') {
    return warn(id, title, evidence, 'a reshard or mode change is in progress; check again in a few minutes');
  }
  if (f.status !== 'ACTIVE') {
    return fail(
      id,
      title,
      evidence,
      'the stream cannot be read or written until it is ACTIVE; check the stack',
    );
  }
  const mode = f.mode ?? expected.capacityMode;
  if (mode !== expected.capacityMode) {
    return warn(
      id,
      title,
      `${evidence} (configured ${expected.capacityMode})`,
      'the stream drifted from the configuration: run `paypipe deploy` to restore it',
    );
  }
  if (mode === 'PROVISIONED' && f.openShards !== undefined && f.openShards !== expected.shardCount) {
    return warn(
      id,
      title,
      `${evidence} (configured ${plural(expected.shardCount, 'shard')})`,
      'the shard count drifted from the configuration: run `paypipe deploy` (or change shardCount)',
    );
  }
  return pass(id, title, evidence);
}

export function checkDeliveryStream(
  role: 'raw' | 'analytics',
  f: { name: string; status?: string | undefined; failure?: string | undefined },
): CheckResult {
  const id = `firehose.${role}`;
  const title = `Firehose ${role} delivery stream`;
  if (f.status === undefined) {
    return fail(id, title, `${f.name} does not exist`, 'deploy the stack with `paypipe deploy`');
  }
  const evidence = `${f.name}: ${f.status}${f.failure === undefined ? '' : ` — ${f.failure}`}`;
  if (f.status === 'ACTIVE' && f.failure === undefined) return pass(id, title, evidence);
  if (f.status === 'CREATING')
    return warn(id, title, evidence, 'wait for the delivery stream to become ACTIVE');
  return fail(
    id,
    title,
    evidence,
    'records are not being delivered to S3: check the delivery stream and its role in the console, then `paypipe deploy`',
  );
}

// ---------------------------------------------------------------------------------------------
// The aggregator's event source mapping

/** The fields of Lambda's EventSourceMappingConfiguration the lint reads (same names as the SDK). */
export interface EventSourceMappingFacts {
  UUID?: string | undefined;
  State?: string | undefined;
  StateTransitionReason?: string | undefined;
  LastProcessingResult?: string | undefined;
  BatchSize?: number | undefined;
  MaximumBatchingWindowInSeconds?: number | undefined;
  BisectBatchOnFunctionError?: boolean | undefined;
  MaximumRetryAttempts?: number | undefined;
  MaximumRecordAgeInSeconds?: number | undefined;
  DestinationConfig?: { OnFailure?: { Destination?: string | undefined } | undefined } | undefined;
  FunctionResponseTypes?: string[] | undefined;
  StartingPosition?: string | undefined;
  ParallelizationFactor?: number | undefined;
}

const DRIFT_FIX = 'the mapping drifted from the configuration: run `paypipe deploy` to restore it';

export function esmState(e: EventSourceMappingFacts): CheckResult {
  const id = 'esm.state';
  const title = 'Event source mapping state';
  const state = e.State ?? 'unknown';
  const reason = e.StateTransitionReason === undefined ? '' : ` (${e.StateTransitionReason})`;
  if (state === 'Enabled') return pass(id, title, `Enabled, ${e.UUID ?? 'no uuid'}`);
  if (state === 'Enabling' || state === 'Updating' || state === 'Creating') {
    return warn(id, title, `${state}${reason}`, 'wait a minute and run doctor again');
  }
  return fail(
    id,
    title,
    `${state}${reason}`,
    `the aggregator is not reading the input stream: enable it (aws lambda update-event-source-mapping --uuid ${e.UUID ?? '<uuid>'} --enabled) or run \`paypipe deploy\``,
  );
}

export function esmLastResult(e: EventSourceMappingFacts): CheckResult {
  const id = 'esm.last-result';
  const title = 'Last processing result';
  const r = e.LastProcessingResult;
  if (r === 'OK') return pass(id, title, 'OK');
  if (r === undefined || r === 'No records processed') {
    return warn(
      id,
      title,
      r ?? 'none reported yet',
      'no batch has been processed yet: check the producer schedule (`paypipe schedule`) or send events (`paypipe send`)',
    );
  }
  return fail(
    id,
    title,
    r,
    'the mapping cannot invoke or read: check the aggregator role permissions and `paypipe logs aggregator`',
  );
}

export function esmBisect(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.bisect';
  const title = 'Bisect batch on error';
  const on = e.BisectBatchOnFunctionError === true;
  if (on === c.bisectBatchOnError) return pass(id, title, on ? 'on' : 'off (as configured)');
  return fail(
    id,
    title,
    `${on ? 'on' : 'off'}, configured ${c.bisectBatchOnError ? 'on' : 'off'}`,
    `without bisecting, one poison record fails its whole batch until retries run out; ${DRIFT_FIX}`,
  );
}

export function esmRetries(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.retries';
  const title = 'Retry attempts';
  const n = e.MaximumRetryAttempts;
  const infinite = n === undefined || n < 0;
  if (infinite && c.retryAttempts === -1) {
    // The configured default: nothing is dropped while the stream holds the records.
    return pass(id, title, '-1 (retried until the records leave the stream), as configured');
  }
  if (infinite) {
    return fail(
      id,
      title,
      `MaximumRetryAttempts ${n ?? 'unset'} (infinite), configured ${c.retryAttempts}`,
      `a failing batch blocks its shard until the records expire; ${DRIFT_FIX}`,
    );
  }
  if (n !== c.retryAttempts) return warn(id, title, `${n}, configured ${c.retryAttempts}`, DRIFT_FIX);
  return pass(id, title, `${n}`);
}

export function esmMaxRecordAge(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.max-record-age';
  const title = 'Maximum record age';
  const n = e.MaximumRecordAgeInSeconds;
  const infinite = n === undefined || n < 0;
  if (infinite && c.maxRecordAgeSeconds === -1) {
    return pass(id, title, '-1 (no limit: the stream retention applies), as configured');
  }
  if (infinite) {
    return fail(
      id,
      title,
      `MaximumRecordAgeInSeconds ${n ?? 'unset'} (infinite), configured ${c.maxRecordAgeSeconds} s`,
      `old records are retried until the stream's retention drops them; ${DRIFT_FIX}`,
    );
  }
  if (n !== c.maxRecordAgeSeconds) {
    const configured = c.maxRecordAgeSeconds === -1 ? '-1 (no limit)' : `${c.maxRecordAgeSeconds} s`;
    return warn(id, title, `${n} s, configured ${configured}`, DRIFT_FIX);
  }
  return pass(id, title, `${n} s`);
}

export function esmOnFailure(e: EventSourceMappingFacts): CheckResult {
  const id = 'esm.on-failure';
  const title = 'On-failure destination';
  const d = e.DestinationConfig?.OnFailure?.Destination;
  if (d === undefined || d === '') {
    return fail(
      id,
      title,
      'none: batches that exhaust their retries are dropped without a trace',
      `set the failure queue as on-failure destination; ${DRIFT_FIX}`,
    );
  }
  return pass(id, title, d);
}

export function esmPartialBatch(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.partial-batch';
  const title = 'Partial batch responses';
  const on = (e.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures');
  if (on === c.reportBatchItemFailures) {
    return pass(id, title, on ? 'ReportBatchItemFailures' : 'off (as configured)');
  }
  return fail(
    id,
    title,
    on ? 'ReportBatchItemFailures on, configured off' : 'FunctionResponseTypes lacks ReportBatchItemFailures',
    `Lambda ignores the handler's batchItemFailures, so failed records count as processed; ${DRIFT_FIX}`,
  );
}

export function esmBatchSize(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.batch-size';
  const title = 'Batch size';
  if (e.BatchSize === c.batchSize) return pass(id, title, `${c.batchSize}`);
  return warn(id, title, `${e.BatchSize ?? 'unset'}, configured ${c.batchSize}`, DRIFT_FIX);
}

export function esmBatchingWindow(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.batching-window';
  const title = 'Batching window';
  const n = e.MaximumBatchingWindowInSeconds ?? 0;
  if (n === c.maxBatchingWindowSeconds) return pass(id, title, `${n} s`);
  return warn(id, title, `${n} s, configured ${c.maxBatchingWindowSeconds} s`, DRIFT_FIX);
}

export function esmStartingPosition(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.starting-position';
  const title = 'Starting position';
  if (e.StartingPosition === c.startingPosition) return pass(id, title, c.startingPosition);
  return warn(id, title, `${e.StartingPosition ?? 'unset'}, configured ${c.startingPosition}`, DRIFT_FIX);
}

export function esmParallelization(e: EventSourceMappingFacts, c: AggregatorSettings): CheckResult {
  const id = 'esm.parallelization';
  const title = 'Parallelization factor';
  const n = e.ParallelizationFactor ?? 1;
  if (n === c.parallelizationFactor) return pass(id, title, `${n}`);
  return warn(id, title, `${n}, configured ${c.parallelizationFactor}`, DRIFT_FIX);
}

/** Every lint rule, in report order; a missing mapping is one fail. */
export function lintEventSourceMapping(
  mappings: readonly EventSourceMappingFacts[],
  c: AggregatorSettings,
  functionName: string,
): CheckResult[] {
  const e = mappings[0];
  if (e === undefined) {
    return [
      fail(
        'esm.state',
        'Event source mapping state',
        `${functionName} has no event source mapping on the input stream`,
        'the aggregator is not reading the input stream: run `paypipe deploy`',
      ),
    ];
  }
  const checks = [
    esmState(e),
    esmLastResult(e),
    esmBisect(e, c),
    esmRetries(e, c),
    esmMaxRecordAge(e, c),
    esmOnFailure(e),
    esmPartialBatch(e, c),
    esmBatchSize(e, c),
    esmBatchingWindow(e, c),
    esmStartingPosition(e, c),
    esmParallelization(e, c),
  ];
  if (mappings.length > 1) {
    checks.push(
      warn(
        'esm.count',
        'One mapping',
        `${mappings.length} mappings from the input stream to ${functionName}: every record is aggregated more than once`,
        'delete the extra mapping (aws lambda delete-event-source-mapping --uuid ...) or run `paypipe deploy`',
      ),
    );
  }
  return checks;
}

// ---------------------------------------------------------------------------------------------
// Failures, dead letters, lag, errors

export function checkFailureQueue(depth: number | undefined, where: string): CheckResult {
  const id = 'failures';
  const title = 'Failed-batch queue';
  if (depth === undefined) {
    return fail(
      id,
      title,
      `${where} could not be read`,
      'check that the stack is deployed and you may read it',
    );
  }
  if (depth === 0) return pass(id, title, `${where}: empty`);
  return warn(
    id,
    title,
    `${where}: ${plural(depth, 'failed batch', 'failed batches')} waiting`,
    'batches exhausted their retries and were not aggregated: read the shard and sequence ranges from the queue, fix the cause (`paypipe logs aggregator --level error`) and replay them',
  );
}

export function checkDeadLetters(objects: number, records: number | undefined, where: string): CheckResult {
  const id = 'dead-letters';
  const title = 'Dead-lettered records (last hour)';
  if (objects === 0) return pass(id, title, `none under ${where}`);
  const what =
    records === undefined
      ? plural(objects, 'dead-letter object')
      : `${plural(records, 'record')} in ${plural(objects, 'object')}`;
  return warn(
    id,
    title,
    `${what} under ${where}`,
    'producers sent records that failed validation; inspect them in the analytics bucket and fix the sender',
  );
}

export interface LagThresholds {
  /** Above this, aggregates are later than one window: warn. */
  warnMs: number;
  /** Above this, the consumer is falling behind: fail. */
  failMs: number;
}

/** Default thresholds: one window of lag is normal, five minutes (or 5 windows) is falling behind. */
export function lagThresholds(config: PipelineConfig, failMs?: number): LagThresholds {
  const windowMs = config.aggregator.windowSeconds * 1000;
  const f = failMs ?? Math.max(300_000, 5 * windowMs);
  return { warnMs: Math.min(windowMs, f), failMs: f };
}

export function checkLag(
  id: string,
  title: string,
  ageMs: number | undefined,
  t: LagThresholds,
  /** What was measured, e.g. `IteratorAge (latest minute)`; the evidence reads `<label> <age>`. */
  label: string,
): CheckResult {
  if (ageMs === undefined) {
    return warn(
      id,
      title,
      `no datapoints for ${label} in the last 15 minutes`,
      'nothing was read from the stream: check the event source mapping and the producer schedule',
    );
  }
  const ev = `${label} ${formatAge(ageMs)}`;
  if (ageMs > t.failMs) {
    return fail(
      id,
      title,
      `${ev} (limit ${formatAge(t.failMs)})`,
      'the aggregator is falling behind: look for errors (`paypipe logs aggregator --level warn`), or add shards / raise the batch size',
    );
  }
  if (ageMs > t.warnMs) {
    return warn(
      id,
      title,
      `${ev} (over ${formatAge(t.warnMs)})`,
      'records wait longer than one window: watch it, and check for retries in `paypipe logs aggregator`',
    );
  }
  return pass(id, title, ev);
}

export interface ErrorFacts {
  invocations?: number | undefined;
  errors: number;
  throttles?: number | undefined;
}

export function checkFunctionErrors(
  role: 'producer' | 'aggregator',
  functionName: string,
  f: ErrorFacts,
  period: string,
): CheckResult {
  const id = `errors.${role}`;
  const title = `${role[0]?.toUpperCase()}${role.slice(1)} errors and throttles`;
  const parts = [
    f.invocations === undefined ? undefined : plural(f.invocations, 'invocation'),
    plural(f.errors, 'error'),
    f.throttles === undefined ? undefined : plural(f.throttles, 'throttle'),
  ].filter((x) => x !== undefined);
  const evidence = `${functionName}: ${parts.join(', ')} in ${period}`;
  const logs = `\`paypipe logs ${role} --level error --since ${period === 'the last 15 minutes' ? '15m' : '1h'}\``;
  if (f.errors > 0 && f.invocations !== undefined && f.invocations > 0 && f.errors >= f.invocations) {
    return fail(id, title, evidence, `every invocation failed: read ${logs}`);
  }
  if (f.errors > 0) return warn(id, title, evidence, `some invocations failed: read ${logs}`);
  if ((f.throttles ?? 0) > 0) {
    return warn(id, title, evidence, 'raise the reserved concurrency or the account concurrency limit');
  }
  return pass(id, title, evidence);
}

// ---------------------------------------------------------------------------------------------
// Freshness and schedule

// Seconds too: the local scheduler runs rate(30 seconds); EventBridge's minimum is 1 minute.
const RATE = /^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$/;
const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * How often a schedule expression fires: exact for rate(...), the finest step of the minute and
 * hour fields for cron(...) (good enough to judge freshness). Undefined when unparseable.
 */
export function scheduleIntervalMs(expression: string): number | undefined {
  const e = expression.trim();
  const r = RATE.exec(e);
  if (r) return Number(r[1]) * (UNIT_MS[(r[2] as string).replace(/s$/, '')] as number);
  const c = /^cron\((.+)\)$/.exec(e);
  if (!c) return undefined;
  const [min, hour] = (c[1] as string).trim().split(/\s+/);
  if (min === undefined || hour === undefined) return undefined;
  const step = (field: string, unit: number, span: number): number | undefined => {
    if (field === '*') return unit;
    const s = /^(?:\*|\d+)\/(\d+)$/.exec(field);
    if (s) return Number(s[1]) * unit;
    const list = field.split(',');
    if (list.length > 1) return Math.floor(span / list.length);
    return undefined;
  };
  return step(min, 60_000, 3_600_000) ?? step(hour, 3_600_000, 86_400_000) ?? 86_400_000;
}

/**
 * The age past which the newest object under a prefix is stale: one schedule interval (new events)
 * plus the Firehose buffer plus the aggregator's batching window, plus a minute of slack.
 */
export function freshnessLimitMs(config: PipelineConfig, scheduleExpression?: string): number {
  const every = scheduleIntervalMs(scheduleExpression ?? config.producer.schedule) ?? 3_600_000;
  return (
    every +
    config.firehose.raw.bufferIntervalSeconds * 1000 +
    config.aggregator.maxBatchingWindowSeconds * 1000 +
    60_000
  );
}

/**
 * Freshness of the newest object under a prefix. Stale is only expected (a warning, not a failure)
 * when nothing is being produced: the schedule is off and, for aggregates, no raw data arrived
 * after the newest aggregate either — raw data newer than the aggregates means the aggregation
 * path is stuck, whatever the schedule says.
 */
export function checkFreshness(
  kind: 'raw' | 'aggregations',
  where: string,
  newestAgeMs: number | undefined,
  limitMs: number,
  scheduleEnabled: boolean | undefined,
  /** For aggregations: age of the newest raw object. */
  upstreamAgeMs?: number | undefined,
  /** How long the pipeline has been running, when known (local): younger than the limit, no object is not yet a fault. */
  pipelineAgeMs?: number | undefined,
): CheckResult {
  const id = `freshness.${kind}`;
  const title = kind === 'raw' ? 'Raw data freshness' : 'Aggregates freshness';
  const inputAfterOutput =
    kind === 'aggregations' &&
    upstreamAgeMs !== undefined &&
    (newestAgeMs === undefined || newestAgeMs - upstreamAgeMs > limitMs);
  const quiet = scheduleEnabled === false && !inputAfterOutput;
  const cause = quiet
    ? 'nothing is produced while the producer schedule is disabled: `paypipe schedule --enable` or `paypipe send`'
    : kind === 'raw'
      ? 'events are not reaching S3: check the producer (`paypipe logs producer`) and the raw delivery stream'
      : 'aggregates are not reaching S3: check the aggregator (`paypipe logs aggregator`), its mapping and the analytics delivery stream';
  const judge = quiet ? warn : fail;
  const behind =
    inputAfterOutput && upstreamAgeMs !== undefined
      ? `; raw data ${formatAge(upstreamAgeMs)} old is newer`
      : '';
  if (newestAgeMs === undefined && pipelineAgeMs !== undefined && pipelineAgeMs <= limitMs) {
    return warn(
      id,
      title,
      `no object under ${where} yet: the pipeline started ${formatAge(pipelineAgeMs)} ago (first delivery due within ${formatAge(limitMs)})`,
      'wait for the first Firehose delivery (its buffer interval), or run `paypipe doctor --probe` to follow one event through',
    );
  }
  if (newestAgeMs === undefined) {
    return judge(id, title, `no object under ${where} in the current or previous hour${behind}`, cause);
  }
  const ev = `newest object under ${where} is ${formatAge(newestAgeMs)} old`;
  if (newestAgeMs <= limitMs) return pass(id, title, ev);
  return judge(id, title, `${ev} (limit ${formatAge(limitMs)})${behind}`, cause);
}

export interface ScheduleFact {
  /** undefined when the rule does not exist. */
  enabled?: boolean | undefined;
  expression?: string | undefined;
  count?: number | undefined;
  name: string;
}

export function checkSchedule(f: ScheduleFact, config: PipelineConfig): CheckResult {
  const id = 'schedule';
  const title = 'Producer schedule';
  if (f.enabled === undefined) {
    return fail(id, title, `${f.name} not found`, 'run `paypipe deploy` to recreate the producer schedule');
  }
  const what = `${f.name}: ${f.enabled ? 'ENABLED' : 'DISABLED'}, ${f.expression ?? '?'}${f.count === undefined ? '' : `, ${plural(f.count, 'event')} per run`}`;
  if (!f.enabled) {
    return warn(
      id,
      title,
      what,
      config.producer.scheduleEnabled
        ? 'no events are produced: `paypipe schedule --enable`'
        : 'disabled in the configuration; `paypipe schedule --enable` to produce events',
    );
  }
  return pass(id, title, what);
}

// ---------------------------------------------------------------------------------------------
// Probe

export interface ProbeHop {
  name: string;
  /** Latency from sending the canary, when the hop was reached. */
  latencyMs?: number | undefined;
}

export function checkProbe(marker: string, hops: ProbeHop[], timeoutMs: number): CheckResult {
  const id = 'probe';
  const title = 'Canary probe';
  const reached = hops.filter((h) => h.latencyMs !== undefined);
  const shown = reached.map((h) => `${h.name} ${formatAge(h.latencyMs as number)}`).join(', ');
  const stuck = hops.find((h) => h.latencyMs === undefined);
  if (stuck === undefined) return pass(id, title, `${marker}: ${shown}`);
  return fail(
    id,
    title,
    `${marker}: stuck before ${stuck.name} after ${formatAge(timeoutMs)}${shown === '' ? '' : ` (${shown})`}`,
    stuck.name.includes('raw')
      ? 'the raw delivery path is stalled: check the raw delivery stream and the input stream'
      : 'the aggregation path is stalled: check the event source mapping, `paypipe logs aggregator` and the analytics delivery stream',
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering

const MARK: Record<CheckStatus, string> = { pass: 'pass', warn: 'warn', fail: 'FAIL', 'n/a': 'n/a ' };

export function renderReport(r: DoctorReport, paint: Paint): string {
  const lines: string[] = [paint.bold(`paypipe doctor: ${r.subject}`), ''];
  const width = Math.max(...r.checks.map((c) => c.title.length), 10);
  for (const c of r.checks) {
    const mark =
      c.status === 'pass'
        ? paint.green(MARK.pass)
        : c.status === 'warn'
          ? paint.yellow(MARK.warn)
          : c.status === 'fail'
            ? paint.bold(paint.red(MARK.fail))
            : paint.dim(MARK['n/a']);
    lines.push(
      `${mark}  ${c.title.padEnd(width)}  ${c.status === 'n/a' ? paint.dim(c.evidence) : c.evidence}`,
    );
    if (c.fix !== undefined) lines.push(`      ${' '.repeat(width)}  ${paint.cyan('→')} ${c.fix}`);
  }
  const { pass: p, warn: w, fail: f } = r.counts;
  const na = r.counts['n/a'];
  lines.push('');
  lines.push(
    `${r.ok ? paint.green('healthy') : paint.bold(paint.red('unhealthy'))}: ${p} passed, ${w} warning${w === 1 ? '' : 's'}, ${f} failed${na > 0 ? `, ${na} not applicable` : ''}`,
  );
  return lines.join('\n');
}
