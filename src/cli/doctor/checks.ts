/**
 * `paypipe doctor`'s judgement: ONE list of checks, in report order, each a pure function from
 * the facts (facts.ts, gathered from AWS or from the local pipeline) to pass / warn / fail / n/a,
 * one line of evidence and, for anything not passing, a fix whose commands work when pasted (they
 * keep --local/--data-dir/--env; see fix-commands.ts). The event source mapping lint compares the deployed
 * mapping against the pipeline configuration (src/pipeline/config.ts), so drift shows up here.
 *
 * To add a check: add ONE entry to CHECKS below, and, if it needs something doctor does not know
 * yet, ONE fact to DoctorFacts (facts.ts) that both gatherers fill (the local one may say
 * `not-here`). A missing fact is reported the same way for every check (see `missingVerdict`),
 * so an entry only judges what it sees. Rendering lives in render.ts.
 */
import type { AggregatorSettings, StreamSettings } from '../../pipeline/config.js';
import { queryTables, TABLE_NAMES } from '../../pipeline/tables.js';
import type {
  ConsumerFact,
  DeliveryFact,
  DoctorFacts,
  EventSourceMappingFacts,
  Fact,
  FunctionErrorsFact,
  Invocation,
  LagFact,
  Missing,
  NewestObjectFact,
  ProbeHop,
  QueryTablesFact,
  RegionFact,
  StreamFact,
  Target,
  BundlesFact,
} from './facts.js';
import { shellQuote } from '../hints.js';
import { awsCli, type CommandKind, paypipe } from './fix-commands.js';
import { judgeAlarms, judgeHourLag, judgeRejects, judgeThroughput } from './monitoring-checks.js';
import { formatAge, freshnessLimitMs, type LagThresholds, lagThresholds, plural } from './thresholds.js';

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
  target: Target;
  /** What was checked: `stack paypipe-dev in ap-southeast-2`, `local pipeline in /path`. */
  subject: string;
  checks: CheckResult[];
  probe?: ProbeSummary | undefined;
  counts: Record<CheckStatus, number>;
  /** False when any check failed (exit 1). */
  ok: boolean;
}

/** What one check concludes; `undefined` from a judge leaves the check out of the report. */
export type Verdict =
  | { status: 'pass' | 'n/a'; evidence: string }
  | { status: 'warn' | 'fail'; evidence: string; fix: string };

const pass = (evidence: string): Verdict => ({ status: 'pass', evidence });
const warn = (evidence: string, fix: string): Verdict => ({ status: 'warn', evidence, fix });
const fail = (evidence: string, fix: string): Verdict => ({ status: 'fail', evidence, fix });
const notApplicable = (why: string): Verdict => ({ status: 'n/a', evidence: why });

/** How fixes spell commands for this target. */
export interface Say {
  /** `` `paypipe <args> …` `` with this target's flags. */
  paypipe(
    args: string,
    kind?: CommandKind,
    override?: Partial<Extract<Invocation, { target: 'aws' }>>,
  ): string;
  /** `` `aws <args> --region R …` ``. */
  aws(args: string): string;
}

function sayFor(f: DoctorFacts): Say {
  // (An unusable region stops the report before any check could suggest an AWS CLI command.)
  const r = known(f.region);
  const region = r !== undefined && 'region' in r && isRegionName(r.region) ? r.region : f.config.region;
  return {
    paypipe: (args, kind, override) =>
      paypipe(
        override === undefined || f.invocation.target !== 'aws'
          ? f.invocation
          : { ...f.invocation, ...override },
        args,
        kind,
      ),
    aws: (args) => awsCli(f.invocation, region, args),
  };
}

/** The value of a fact, or undefined when it is missing (for facts a check only reads if known). */
export const known = <T>(f: Fact<T>): T | undefined => (f.known ? f.value : undefined);

interface CheckDef<T> {
  id: string;
  /** One title, or one per target where the local check answers a different question. */
  title: string | Record<Target, string>;
  /** The fact this check judges. */
  fact: (f: DoctorFacts) => Fact<T>;
  judge: (value: T, f: DoctorFacts, say: Say) => Verdict | undefined;
  /**
   * When the fact is missing: `report` (default: see missingVerdict), `omit` (for checks that
   * share a fact with an earlier one, which already reported it), or a verdict of its own.
   */
  onMissing?: 'report' | 'omit' | ((m: Missing, f: DoctorFacts) => Verdict | undefined);
}

export interface Check {
  id: string;
  run(f: DoctorFacts, say: Say): CheckResult | undefined;
}

function check<T>(d: CheckDef<T>): Check {
  return {
    id: d.id,
    run(f, say) {
      const fact = d.fact(f);
      const on = d.onMissing ?? 'report';
      const v = fact.known
        ? d.judge(fact.value, f, say)
        : on === 'omit'
          ? undefined
          : on === 'report'
            ? missingVerdict(fact.missing, say)
            : on(fact.missing, f);
      if (v === undefined) return undefined;
      const title = typeof d.title === 'string' ? d.title : d.title[f.target];
      const evidence = oneLine(v.evidence);
      return v.status === 'warn' || v.status === 'fail'
        ? { id: d.id, title, status: v.status, evidence, fix: oneLine(v.fix) }
        : { id: d.id, title, status: v.status, evidence };
    },
  };
}

/** Free text from AWS (stack reasons, failure details) may span lines; a report line may not. */
const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, ' ');

/**
 * A fact doctor could not gather: a permission problem is a warning (the pipeline may be fine,
 * doctor just cannot see), anything else fails; no meaning here is n/a, never a pass.
 */
export function missingVerdict(m: Missing, say: Say): Verdict | undefined {
  switch (m.kind) {
    case 'not-here':
      return notApplicable(m.why);
    case 'skipped':
      return undefined;
    case 'denied':
      return warn(`could not check: ${m.error}`, `grant ${m.permission} to the identity running doctor`);
    case 'failed':
      return fail(
        `could not check: ${m.error}`,
        `run ${say.paypipe('doctor --debug')} for the full error, and check that the resource exists`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Account, region, stack

/** The shape of every AWS region name (ap-southeast-2, us-gov-west-1, eu-isoe-west-1, ...). */
const isRegionName = (s: string): boolean => /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/.test(s);

function judgeRegion(r: RegionFact, f: DoctorFacts, say: Say): Verdict {
  const example = say.paypipe('doctor', 'target', { region: f.config.region });
  if ('problem' in r) return fail(r.problem, `${r.hint ?? 'give a region name'}; or pass one: ${example}`);
  if (isRegionName(r.region)) return pass(`${r.region} (${r.source})`);
  // The resolver lets no such region through; judged anyway, so that no blank region is ever a pass.
  return fail(
    r.region.trim() === ''
      ? `${r.source} is blank${r.region === '' ? '' : ` (${JSON.stringify(r.region)})`}`
      : `${JSON.stringify(r.region)} (${r.source}) is not an AWS region name`,
    `set ${r.source} to a region name, or pass one: ${example}`,
  );
}

const STACK_OK = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

// ---------------------------------------------------------------------------------------------
// Streams and delivery

function judgeStream(f: StreamFact, expected: StreamSettings, d: DoctorFacts, say: Say): Verdict {
  const redeploy =
    d.target === 'aws'
      ? `run ${say.paypipe('deploy', 'stack')} to restore it`
      : `the local streams keep the shape they were created with: start ${say.paypipe('up', 'up')} with a new --data-dir to change it`;
  if (f.status === undefined) {
    return fail(
      `${f.name} does not exist`,
      d.target === 'aws'
        ? `deploy the stack: ${say.paypipe('deploy', 'stack')}`
        : `stop the running pipeline (Ctrl-C in its terminal) and start it again: ${say.paypipe('up', 'up')}`,
    );
  }
  const shape = [
    f.status,
    f.openShards === undefined ? undefined : plural(f.openShards, 'open shard'),
    f.mode,
  ].filter((x) => x !== undefined);
  const evidence = `${f.name}: ${shape.join(', ')}`;
  if (f.status === 'UPDATING') {
    return warn(evidence, 'a reshard or mode change is in progress; check again in a few minutes');
  }
  if (f.status !== 'ACTIVE') {
    return fail(evidence, 'the stream cannot be read or written until it is ACTIVE; check the stack');
  }
  const mode = f.mode ?? expected.capacityMode;
  if (mode !== expected.capacityMode) {
    return warn(
      `${evidence} (configured ${expected.capacityMode})`,
      `the stream drifted from the configuration: ${redeploy}`,
    );
  }
  if (mode === 'PROVISIONED' && f.openShards !== undefined && f.openShards !== expected.shardCount) {
    return warn(
      `${evidence} (configured ${plural(expected.shardCount, 'shard')})`,
      `the shard count drifted from the configuration (or change shardCount): ${redeploy}`,
    );
  }
  return pass(evidence);
}

function judgeDelivery(d: DeliveryFact, _f: DoctorFacts, say: Say): Verdict {
  if (d.kind === 'local') {
    const ev = `${d.name}: ${plural(d.recordsDelivered, 'record')} in ${plural(d.objectsWritten, 'object')}, ${d.bufferedRecords} buffered`;
    if (!d.running) return fail(`${ev}; not running`, `start the local pipeline: ${say.paypipe('up', 'up')}`);
    if (d.parked !== undefined) {
      const p = d.parked;
      return fail(
        `${ev}; deliveries parked since ${p.since}: ${p.reason}`,
        p.kind === 'bucket-missing'
          ? `recreate the bucket (\`AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${d.s3Endpoint ?? '<s3 endpoint>'} s3 mb s3://${p.bucket}\`), or stop and restart ${say.paypipe('up', 'up')}, which creates missing buckets; deliveries resume on their own`
          : `see ${d.logFile} and ${say.paypipe('logs')}; deliveries resume on their own once S3 accepts them`,
      );
    }
    if (d.errorObjects > 0) {
      return fail(
        `${ev}; ${plural(d.errorObjects, 'object')} written under errors/`,
        `records could not be delivered: inspect the errors/ prefix in the bucket and ${say.paypipe('logs')}`,
      );
    }
    if (d.deliveryErrors > 0) {
      return warn(
        `${ev}; ${d.deliveryErrors} delivery attempts failed and were retried`,
        `see ${d.logFile} and the last error: ${d.lastError ?? 'none recorded'}`,
      );
    }
    return pass(ev);
  }
  const deploy = say.paypipe('deploy', 'stack');
  if (d.status === undefined) return fail(`${d.name} does not exist`, `deploy the stack: ${deploy}`);
  const evidence = `${d.name}: ${d.status}${d.failure === undefined ? '' : ` — ${d.failure}`}`;
  if (d.status === 'ACTIVE' && d.failure === undefined) return pass(evidence);
  if (d.status === 'CREATING') return warn(evidence, 'wait for the delivery stream to become ACTIVE');
  return fail(
    evidence,
    `records are not being delivered to S3: check the delivery stream and its role in the console, then ${deploy}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Query tables

/**
 * Each table of src/pipeline/tables.ts exists in the stack's Glue database and reads exactly what
 * the stack writes: its location, and the projection parameters (template, ranges, digits) built
 * from the same prefixes as the Firehose streams and the dead-letter writer. A table edited in
 * the console, or left from another version, would answer queries from the wrong objects (or
 * from none) without an error.
 */
function judgeTables(t: QueryTablesFact, f: DoctorFacts, say: Say): Verdict {
  const deploy = say.paypipe('deploy', 'stack');
  if (t.database === undefined) {
    return warn(
      'the stack has no GlueDatabaseName output: it was deployed without the query tables',
      `deploy this version to add them: ${deploy}`,
    );
  }
  const expected = queryTables(f.config);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const name of TABLE_NAMES) {
    const want = expected.tables[name];
    const have = t.tables[name];
    if (have === undefined) {
      missing.push(name);
      continue;
    }
    const bucket = t.buckets[want.bucket];
    const location = want.location(bucket);
    if (have.location !== location) {
      wrong.push(`${name} reads ${have.location ?? '(no location)'}, the stack writes ${location}`);
      continue;
    }
    const params = want.parameters(bucket);
    for (const [key, value] of Object.entries(params)) {
      if (!key.startsWith('projection.') && key !== 'storage.location.template') continue;
      if (have.parameters[key] !== value) {
        wrong.push(`${name} has ${key} = ${have.parameters[key] ?? '(unset)'}, expected ${value}`);
        break;
      }
    }
  }
  if (missing.length > 0) {
    return fail(`${t.database}: no table ${missing.join(', ')}`, `restore the tables: ${deploy}`);
  }
  if (wrong.length > 0) {
    return fail(
      `${t.database}: ${wrong[0]}${wrong.length > 1 ? ` (and ${wrong.length - 1} more)` : ''}`,
      `the table drifted from the stack: ${deploy} puts it back`,
    );
  }
  return pass(`${t.database}: ${TABLE_NAMES.join(', ')} read the stack's prefixes (partition projection)`);
}

// ---------------------------------------------------------------------------------------------
// The aggregator's event source mapping (AWS) or poller (local)

const drift = (say: Say): string =>
  `the mapping drifted from the configuration: run ${say.paypipe('deploy', 'stack')} to restore it`;

/** A lint rule over the first mapping; left out when there is no mapping (esm.state says so). */
function esmRule(
  id: string,
  title: string,
  judge: (e: EventSourceMappingFacts, c: AggregatorSettings, say: Say) => Verdict,
): Check {
  return check<ConsumerFact>({
    id,
    title,
    fact: (f) => f.consumer,
    onMissing: 'omit',
    judge: (c, f, say) =>
      c.kind === 'mapping' && c.mappings[0] !== undefined
        ? judge(c.mappings[0], f.config.aggregator, say)
        : undefined,
  });
}

function judgeConsumerState(c: ConsumerFact, _f: DoctorFacts, say: Say): Verdict {
  if (c.kind === 'poller') {
    const ev = `${plural(c.shards, 'shard poller')}; ${plural(c.recordsRead, 'record')} read, ${plural(c.invocations, 'invocation')}, ${plural(c.retries, 'retry', 'retries')}`;
    if (!c.running) return fail(`${ev}; stopped`, `start the local pipeline: ${say.paypipe('up', 'up')}`);
    if (c.statusAgeMs > STATUS_STALE_MS) {
      return fail(
        `status.json not updated for ${formatAge(c.statusAgeMs)}`,
        `the pipeline process (pid ${c.pid}) looks stuck: stop it (Ctrl-C) and start it again: ${say.paypipe('up', 'up')}`,
      );
    }
    return pass(ev);
  }
  const e = c.mappings[0];
  if (e === undefined) {
    return fail(
      `${c.functionName} has no event source mapping on the input stream`,
      `the aggregator is not reading the input stream: run ${say.paypipe('deploy', 'stack')}`,
    );
  }
  const state = e.State ?? 'unknown';
  const reason = e.StateTransitionReason === undefined ? '' : ` (${e.StateTransitionReason})`;
  if (state === 'Enabled') return pass(`Enabled, ${e.UUID ?? 'no uuid'}`);
  if (state === 'Enabling' || state === 'Updating' || state === 'Creating') {
    return warn(`${state}${reason}`, `wait a minute and run ${say.paypipe('doctor')} again`);
  }
  const enable =
    e.UUID === undefined
      ? `find it with ${listMappings(c.functionName, say)} and enable it`
      : `enable it (${say.aws(`lambda update-event-source-mapping --uuid ${shellQuote(e.UUID)} --enabled`)})`;
  return fail(
    `${state}${reason}`,
    `the aggregator is not reading the input stream: ${enable} or run ${say.paypipe('deploy', 'stack')}`,
  );
}

const listMappings = (functionName: string, say: Say): string =>
  say.aws(`lambda list-event-source-mappings --function-name ${shellQuote(functionName)}`);

/** status.json is rewritten every second; older than this means the pipeline process is stuck. */
const STATUS_STALE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Lag, errors, freshness

function judgeLag(l: LagFact, t: LagThresholds, say: Say): Verdict {
  if (l.ageMs === undefined) {
    return warn(
      `no datapoints for ${l.label} in the last 15 minutes`,
      `nothing was read from the stream: check the event source mapping and the producer schedule (${say.paypipe('schedule')})`,
    );
  }
  const ev = `${l.label} ${formatAge(l.ageMs)}`;
  if (l.ageMs > t.failMs) {
    return fail(
      `${ev} (limit ${formatAge(t.failMs)})`,
      `the aggregator is falling behind: look for errors (${say.paypipe('logs aggregator --level warn')}), or add shards / raise the batch size`,
    );
  }
  if (l.ageMs > t.warnMs) {
    return warn(
      `${ev} (over ${formatAge(t.warnMs)})`,
      `records wait longer than one window: watch it, and check for retries in ${say.paypipe('logs aggregator')}`,
    );
  }
  return pass(ev);
}

function judgeErrors(role: 'producer' | 'aggregator', e: FunctionErrorsFact, say: Say): Verdict {
  const minutes = Math.max(1, Math.round(e.periodMs / 60_000));
  const parts = [
    e.invocations === undefined ? undefined : plural(e.invocations, 'invocation'),
    plural(e.errors, 'error'),
    e.throttles === undefined ? undefined : plural(e.throttles, 'throttle'),
  ].filter((x) => x !== undefined);
  const evidence = `${e.functionName}: ${parts.join(', ')} in the last ${plural(minutes, 'minute')}`;
  const logs = say.paypipe(`logs ${role} --level error --since ${minutes}m`);
  if (e.errors > 0 && e.invocations !== undefined && e.invocations > 0 && e.errors >= e.invocations) {
    return fail(evidence, `every invocation failed: read ${logs}`);
  }
  if (e.errors > 0) return warn(evidence, `some invocations failed: read ${logs}`);
  if ((e.throttles ?? 0) > 0) {
    return warn(evidence, 'raise the reserved concurrency or the account concurrency limit');
  }
  return pass(evidence);
}

/** The freshness limit: --stale-after, else from the schedule actually in force (if known). */
const freshnessLimit = (f: DoctorFacts): number =>
  f.limits.staleAfterMs ?? freshnessLimitMs(f.config, known(f.schedule)?.expression);

/**
 * Freshness of the newest object under a prefix. Stale is only expected (a warning, not a failure)
 * when nothing is being produced: the schedule is off and, for aggregates, no raw data arrived
 * after the newest aggregate either — raw data newer than the aggregates means the aggregation
 * path is stuck, whatever the schedule says.
 */
function judgeFreshness(
  kind: 'raw' | 'aggregations',
  n: NewestObjectFact,
  f: DoctorFacts,
  say: Say,
): Verdict {
  const limitMs = freshnessLimit(f);
  const upstreamAgeMs = kind === 'aggregations' ? known(f.newest.raw)?.ageMs : undefined;
  const pipelineAgeMs = known(f.pipelineAgeMs);
  const inputAfterOutput =
    upstreamAgeMs !== undefined && (n.ageMs === undefined || n.ageMs - upstreamAgeMs > limitMs);
  const quiet = known(f.schedule)?.enabled === false && !inputAfterOutput;
  const cause = quiet
    ? `nothing is produced while the producer schedule is disabled: ${say.paypipe('schedule --enable')} or ${say.paypipe('send')}`
    : kind === 'raw'
      ? `events are not reaching S3: check the producer (${say.paypipe('logs producer')}) and the raw delivery stream`
      : `aggregates are not reaching S3: check the aggregator (${say.paypipe('logs aggregator')}), its mapping and the analytics delivery stream`;
  const judge = quiet ? warn : fail;
  const behind =
    inputAfterOutput && upstreamAgeMs !== undefined
      ? `; raw data ${formatAge(upstreamAgeMs)} old is newer`
      : '';
  if (n.ageMs === undefined && pipelineAgeMs !== undefined && pipelineAgeMs <= limitMs) {
    return warn(
      `no object under ${n.where} yet: the pipeline started ${formatAge(pipelineAgeMs)} ago (first delivery due within ${formatAge(limitMs)})`,
      `wait for the first Firehose delivery (its buffer interval), or run ${say.paypipe('doctor --probe')} to follow one event through`,
    );
  }
  if (n.ageMs === undefined) {
    return judge(`no object under ${n.where} in the current or previous hour${behind}`, cause);
  }
  const ev = `newest object under ${n.where} is ${formatAge(n.ageMs)} old`;
  if (n.ageMs <= limitMs) return pass(ev);
  return judge(`${ev} (limit ${formatAge(limitMs)})${behind}`, cause);
}

function judgeProbe(marker: string, hops: ProbeHop[], timeoutMs: number, say: Say): Verdict {
  const reached = hops.filter((h) => h.latencyMs !== undefined);
  const shown = reached.map((h) => `${h.name} ${formatAge(h.latencyMs as number)}`).join(', ');
  const stuck = hops.find((h) => h.latencyMs === undefined);
  if (stuck === undefined) return pass(`${marker}: ${shown}`);
  return fail(
    `${marker}: stuck before ${stuck.name} after ${formatAge(timeoutMs)}${shown === '' ? '' : ` (${shown})`}`,
    stuck.name.includes('raw')
      ? 'the raw delivery path is stalled: check the raw delivery stream and the input stream'
      : `the aggregation path is stalled: check the event source mapping, ${say.paypipe('logs aggregator')} and the analytics delivery stream`,
  );
}

const lagLimits = (f: DoctorFacts): LagThresholds => lagThresholds(f.config, f.limits.maxLagMs);

const localSettings = notApplicable(
  'the local poller runs the configuration itself (nothing deployed to drift)',
);

// ---------------------------------------------------------------------------------------------
// THE list, in report order.

/** The running bundles against the last `paypipe synth`: what runs locally is what a deploy uploads. */
function judgeBundles(b: BundlesFact, _f: DoctorFacts, say: Say): Verdict {
  const running = b.functions.map((x) => `${x.role} ${x.bundleHash.slice(0, 12)}`).join(', ');
  if (b.accessDenied > 0) {
    return fail(
      `${running}; ${plural(b.accessDenied, 'call')} denied by the role's policies (AccessDenied, as on AWS)`,
      `see the AccessDenied lines of the running pipeline; grant the action in src/infra/pipeline-stack.ts and restart: ${say.paypipe('up', 'up')}`,
    );
  }
  const last = b.lastSynth;
  if (last === undefined) return pass(`${running} (no \`paypipe synth\` output in cdk.out to compare with)`);
  if ('problem' in last) {
    return warn(
      `${running}; ${last.dir}: ${last.problem}`,
      `synthesize again: ${say.paypipe('synth', 'stack')}`,
    );
  }
  const differ = b.functions.filter((x) => last.bundleHashes[x.role] !== x.bundleHash).map((x) => x.role);
  if (differ.length === 0)
    return pass(`${running}, the same as the last synth (${last.dir}, ${last.synthesizedAt})`);
  return warn(
    `${running}: the ${differ.join(' and ')} ${differ.length === 1 ? 'differs' : 'differ'} from the last synth (${last.dir}, ${last.synthesizedAt}) — a deploy of that assembly would upload other code than runs here`,
    `synthesize this checkout again (${say.paypipe('synth', 'stack')}), or run that assembly: ${say.paypipe('up --assembly cdk.out', 'up')}`,
  );
}

export const CHECKS: readonly Check[] = [
  check({
    id: 'local.running',
    title: 'Local pipeline running',
    fact: (f) => f.localPipeline,
    judge: (p, _f, say) =>
      p.running
        ? pass(`pid ${p.pid}, data dir ${p.dataDir}`)
        : fail(
            `${p.reason}${p.lastStatusAt === undefined ? '' : ` (last status ${p.lastStatusAt})`}`,
            `start it in another terminal: ${say.paypipe('up', 'up')}`,
          ),
  }),
  check({
    id: 'credentials',
    title: 'AWS credentials',
    fact: (f) => f.identity,
    judge: (i, _f, say) => {
      if (i.ok) return pass(`${i.arn} (account ${i.account})`);
      return fail(
        `STS GetCallerIdentity failed: ${i.error}`,
        i.network
          ? `the AWS endpoint could not be reached: check the network, a proxy, and the region, then run ${say.paypipe('doctor')} again`
          : `configure credentials (\`aws configure\`, \`aws sso login\`, or --profile <name>) and run ${say.paypipe('doctor')} again; no AWS account? try \`paypipe doctor --local\``,
      );
    },
  }),
  check({ id: 'region', title: 'Region', fact: (f) => f.region, judge: judgeRegion }),
  check({
    id: 'stack',
    title: 'Stack deployed',
    fact: (f) => f.stack,
    judge: (s, _f, say) => {
      const deploy = say.paypipe('deploy', 'stack');
      if (s.error !== undefined) {
        return fail(
          s.error,
          'grant cloudformation:DescribeStacks to the identity running doctor, or check --stack/--env/--region',
        );
      }
      if (s.status === undefined) {
        return fail(
          `stack ${s.name} not found`,
          `deploy it with ${deploy} (or pass --stack/--env/--region for the right one)`,
        );
      }
      if (STACK_OK.has(s.status)) return pass(`${s.name}: ${s.status}`);
      const ev = `${s.name}: ${s.status}${s.reason === undefined || s.reason === '' ? '' : ` — ${s.reason}`}`;
      if (
        s.status.endsWith('_IN_PROGRESS') &&
        !s.status.includes('ROLLBACK') &&
        !s.status.startsWith('DELETE')
      ) {
        return warn(ev, 'wait for the deployment to finish');
      }
      return fail(
        ev,
        s.status === 'UPDATE_ROLLBACK_COMPLETE'
          ? `the last deploy was rolled back: fix the cause shown in the stack events and run ${deploy} again`
          : `look at the stack events in CloudFormation, fix the cause and run ${deploy}`,
      );
    },
  }),
  check({
    id: 'stack.outputs',
    title: 'Stack outputs',
    fact: (f) => f.stackOutputs,
    judge: (o, _f, say) =>
      o.missing.length === 0
        ? undefined
        : fail(
            `stack ${o.stackName} (${o.status}) lacks the output${o.missing.length === 1 ? '' : 's'} ${o.missing.join(', ')}`,
            o.status.endsWith('_IN_PROGRESS')
              ? `wait for the running stack operation to finish, then run ${say.paypipe('doctor')} again`
              : o.version === o.cliVersion
                ? `the commands that use them stop until they exist: look at the stack events and run ${say.paypipe('deploy', 'stack')} again`
                : `update the stack: ${say.paypipe('deploy', 'stack')}`,
          ),
  }),
  check({
    id: 'stack.version',
    title: 'Stack version',
    fact: (f) => f.stackOutputs,
    judge: (o, _f, say) =>
      o.version === o.cliVersion
        ? pass(`deployed by paypipe ${o.version}, the version of this CLI`)
        : warn(
            o.version === undefined
              ? `deployed by a paypipe from before the PaypipeVersion output; this CLI is ${o.cliVersion}`
              : `deployed by paypipe ${o.version}; this CLI is ${o.cliVersion}`,
            `bring the stack to this version with ${say.paypipe('deploy', 'stack')}, or use the paypipe that deployed it`,
          ),
  }),
  check({
    id: 'local.servers',
    title: 'Local Kinesis and S3 servers',
    fact: (f) => f.localServers,
    judge: (s, _f, say) =>
      s.error === undefined
        ? pass(`kinesalite ${s.kinesisEndpoint}, s3rver ${s.s3Endpoint}`)
        : fail(
            `${s.kinesisEndpoint} / ${s.s3Endpoint} not answering: ${s.error}`,
            `see ${s.logFile}; stop the running pipeline (Ctrl-C in its terminal) and start it again: ${say.paypipe('up', 'up')}`,
          ),
  }),
  check({
    id: 'local.bundles',
    title: 'Function bundles (local)',
    fact: (f) => f.bundles ?? { known: false, missing: { kind: 'skipped', why: 'AWS target' } },
    onMissing: 'omit',
    judge: judgeBundles,
  }),
  check({
    id: 'stream.input',
    title: 'Kinesis input stream',
    fact: (f) => f.streams.input,
    judge: (s, f, say) => judgeStream(s, f.config.streams.input, f, say),
  }),
  check({
    id: 'stream.output',
    title: 'Kinesis output stream',
    fact: (f) => f.streams.output,
    judge: (s, f, say) => judgeStream(s, f.config.streams.output, f, say),
  }),
  check({
    id: 'firehose.raw',
    title: { aws: 'Firehose raw delivery stream', local: 'Firehose raw delivery (local)' },
    fact: (f) => f.delivery.raw,
    judge: judgeDelivery,
  }),
  check({
    id: 'firehose.analytics',
    title: { aws: 'Firehose analytics delivery stream', local: 'Firehose analytics delivery (local)' },
    fact: (f) => f.delivery.analytics,
    judge: judgeDelivery,
  }),
  check({
    id: 'tables',
    title: 'Query tables (Glue)',
    fact: (f) => f.tables,
    judge: judgeTables,
  }),
  check({
    id: 'esm.state',
    title: { aws: 'Event source mapping state', local: 'Aggregator poller (local)' },
    fact: (f) => f.consumer,
    judge: judgeConsumerState,
  }),
  esmRule('esm.last-result', 'Last processing result', (e, _c, say) => {
    const r = e.LastProcessingResult;
    if (r === 'OK') return pass('OK');
    if (r === undefined || r === 'No records processed') {
      return warn(
        r ?? 'none reported yet',
        `no batch has been processed yet: check the producer schedule (${say.paypipe('schedule')}) or send events (${say.paypipe('send')})`,
      );
    }
    return fail(
      r,
      `the mapping cannot invoke or read: check the aggregator role permissions and ${say.paypipe('logs aggregator')}`,
    );
  }),
  esmRule('esm.bisect', 'Bisect batch on error', (e, c, say) => {
    const on = e.BisectBatchOnFunctionError === true;
    if (on === c.bisectBatchOnError) return pass(on ? 'on' : 'off (as configured)');
    return fail(
      `${on ? 'on' : 'off'}, configured ${c.bisectBatchOnError ? 'on' : 'off'}`,
      `without bisecting, one poison record fails its whole batch until retries run out; ${drift(say)}`,
    );
  }),
  esmRule('esm.retries', 'Retry attempts', (e, c, say) => {
    const n = e.MaximumRetryAttempts;
    const infinite = n === undefined || n < 0;
    // The configured default: nothing is dropped while the stream holds the records.
    if (infinite && c.retryAttempts === -1)
      return pass('-1 (retried until the records leave the stream), as configured');
    if (infinite) {
      return fail(
        `MaximumRetryAttempts ${n ?? 'unset'} (infinite), configured ${c.retryAttempts}`,
        `a failing batch blocks its shard until the records expire; ${drift(say)}`,
      );
    }
    if (n !== c.retryAttempts) return warn(`${n}, configured ${c.retryAttempts}`, drift(say));
    return pass(`${n}`);
  }),
  esmRule('esm.max-record-age', 'Maximum record age', (e, c, say) => {
    const n = e.MaximumRecordAgeInSeconds;
    const infinite = n === undefined || n < 0;
    if (infinite && c.maxRecordAgeSeconds === -1)
      return pass('-1 (no limit: the stream retention applies), as configured');
    if (infinite) {
      return fail(
        `MaximumRecordAgeInSeconds ${n ?? 'unset'} (infinite), configured ${c.maxRecordAgeSeconds} s`,
        `old records are retried until the stream's retention drops them; ${drift(say)}`,
      );
    }
    if (n !== c.maxRecordAgeSeconds) {
      const configured = c.maxRecordAgeSeconds === -1 ? '-1 (no limit)' : `${c.maxRecordAgeSeconds} s`;
      return warn(`${n} s, configured ${configured}`, drift(say));
    }
    return pass(`${n} s`);
  }),
  esmRule('esm.on-failure', 'On-failure destination', (e, _c, say) => {
    const d = e.DestinationConfig?.OnFailure?.Destination;
    if (d === undefined || d === '') {
      return fail(
        'none: batches that exhaust their retries are dropped without a trace',
        `set the failure queue as on-failure destination; ${drift(say)}`,
      );
    }
    return pass(d);
  }),
  esmRule('esm.partial-batch', 'Partial batch responses', (e, c, say) => {
    const on = (e.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures');
    if (on === c.reportBatchItemFailures) return pass(on ? 'ReportBatchItemFailures' : 'off (as configured)');
    return fail(
      on
        ? 'ReportBatchItemFailures on, configured off'
        : 'FunctionResponseTypes lacks ReportBatchItemFailures',
      `Lambda ignores the handler's batchItemFailures, so failed records count as processed; ${drift(say)}`,
    );
  }),
  esmRule('esm.batch-size', 'Batch size', (e, c, say) =>
    e.BatchSize === c.batchSize
      ? pass(`${c.batchSize}`)
      : warn(`${e.BatchSize ?? 'unset'}, configured ${c.batchSize}`, drift(say)),
  ),
  esmRule('esm.batching-window', 'Batching window', (e, c, say) => {
    const n = e.MaximumBatchingWindowInSeconds ?? 0;
    if (n === c.maxBatchingWindowSeconds) return pass(`${n} s`);
    return warn(`${n} s, configured ${c.maxBatchingWindowSeconds} s`, drift(say));
  }),
  esmRule('esm.starting-position', 'Starting position', (e, c, say) =>
    e.StartingPosition === c.startingPosition
      ? pass(c.startingPosition)
      : warn(`${e.StartingPosition ?? 'unset'}, configured ${c.startingPosition}`, drift(say)),
  ),
  esmRule('esm.parallelization', 'Parallelization factor', (e, c, say) => {
    const n = e.ParallelizationFactor ?? 1;
    if (n === c.parallelizationFactor) return pass(`${n}`);
    return warn(`${n}, configured ${c.parallelizationFactor}`, drift(say));
  }),
  check({
    id: 'esm.count',
    title: 'One mapping',
    fact: (f) => f.consumer,
    onMissing: 'omit',
    judge: (c, _f, say) => {
      if (c.kind !== 'mapping' || c.mappings.length < 2) return undefined;
      const extra = c.mappings[1]?.UUID;
      const remove =
        extra === undefined
          ? `find the extra one with ${listMappings(c.functionName, say)} and delete it`
          : `delete the extra one (${say.aws(`lambda delete-event-source-mapping --uuid ${shellQuote(extra)}`)})`;
      return warn(
        `${c.mappings.length} mappings from the input stream to ${c.functionName}: every record is aggregated more than once`,
        `${remove} or run ${say.paypipe('deploy', 'stack')}`,
      );
    },
  }),
  check({
    id: 'esm.settings',
    title: 'Event source mapping settings',
    fact: (f) => f.consumer,
    // Locally the settings are n/a whatever the poller's state (esm.state reports that).
    onMissing: (m, f) => (f.target === 'local' && m.kind !== 'skipped' ? localSettings : undefined),
    judge: (c) => (c.kind === 'poller' ? localSettings : undefined),
  }),
  check({
    id: 'failures',
    title: 'Failed-batch queue',
    fact: (f) => f.failedBatches,
    judge: (q, f, say) => {
      if (q.count === undefined) {
        return fail(
          `${q.where} could not be read`,
          f.target === 'aws'
            ? `check that the stack has a FailureQueueUrl output (${say.paypipe('outputs')}) and that you may read the queue`
            : `check that ${q.where} in the data dir is readable`,
        );
      }
      if (q.count === 0) return pass(`${q.where}: empty`);
      return warn(
        `${q.where}: ${plural(q.count, 'failed batch', 'failed batches')} waiting`,
        `batches exhausted their retries and were not aggregated: see them with ${say.paypipe('dead-letters')}, fix the cause (${say.paypipe('logs aggregator --level error')}) and replay them`,
      );
    },
  }),
  check({
    id: 'dead-letters',
    title: 'Dead-lettered records (last hour)',
    fact: (f) => f.deadLetters,
    judge: (d, _f, say) => {
      if (d.objects === 0) return pass(`none under ${d.where}`);
      const what =
        d.records === undefined
          ? plural(d.objects, 'dead-letter object')
          : `${plural(d.records, 'record')} in ${plural(d.objects, 'object')}`;
      return warn(
        `${what} under ${d.where}`,
        `producers sent records that failed validation: inspect them with ${say.paypipe('dead-letters')} and fix the sender`,
      );
    },
  }),
  check({
    id: 'lag.stream',
    title: 'Input stream iterator age',
    fact: (f) => f.lag.stream,
    judge: (l, f, say) => judgeLag(l, lagLimits(f), say),
  }),
  check({
    id: 'lag.aggregator',
    title: { aws: 'Aggregator iterator age', local: 'Aggregator lag per shard' },
    fact: (f) => f.lag.aggregator,
    judge: (l, f, say) => judgeLag(l, lagLimits(f), say),
  }),
  check({
    id: 'errors.aggregator',
    title: 'Aggregator errors and throttles',
    fact: (f) => f.errors.aggregator,
    judge: (e, _f, say) => judgeErrors('aggregator', e, say),
  }),
  check({
    id: 'errors.producer',
    title: 'Producer errors and throttles',
    fact: (f) => f.errors.producer,
    judge: (e, _f, say) => judgeErrors('producer', e, say),
  }),
  check({
    id: 'freshness.raw',
    title: 'Raw data freshness',
    fact: (f) => f.newest.raw,
    judge: (n, f, say) => judgeFreshness('raw', n, f, say),
  }),
  check({
    id: 'freshness.aggregations',
    title: 'Aggregates freshness',
    fact: (f) => f.newest.aggregations,
    judge: (n, f, say) => judgeFreshness('aggregations', n, f, say),
  }),
  check({
    id: 'schedule',
    title: 'Producer schedule',
    fact: (f) => f.schedule,
    judge: (s, f, say) => {
      if (s.enabled === undefined) {
        return fail(
          `${s.name} not found`,
          f.target === 'aws'
            ? `run ${say.paypipe('deploy', 'stack')} to recreate the producer schedule`
            : `restart the local pipeline to recreate it: ${say.paypipe('up', 'up')}`,
        );
      }
      const what = `${s.name}: ${s.enabled ? 'ENABLED' : 'DISABLED'}, ${s.expression ?? '?'}${s.count === undefined ? '' : `, ${plural(s.count, 'event')} per run`}`;
      if (s.enabled) return pass(what);
      return warn(
        what,
        f.config.producer.scheduleEnabled
          ? `no events are produced: ${say.paypipe('schedule --enable')}`
          : `disabled in the configuration; ${say.paypipe('schedule --enable')} to produce events`,
      );
    },
  }),
  check({
    id: 'alarms',
    title: { aws: 'Alarms', local: 'Alarms (local evaluation)' },
    fact: (f) => f.metrics,
    judge: (m, f, say) => judgeAlarms(m, f, say.paypipe),
  }),
  check({
    id: 'throughput',
    title: 'Input throughput vs shard limits',
    fact: (f) => f.metrics,
    judge: (m, f, say) => judgeThroughput(m, known(f.streams.input), f, say.paypipe),
    onMissing: 'omit',
  }),
  check({
    id: 'lag.hour',
    title: 'Aggregator lag, last hour',
    fact: (f) => f.metrics,
    judge: (m, f, say) => judgeHourLag(m, f, say.paypipe),
    onMissing: 'omit',
  }),
  check({
    id: 'rejects',
    title: 'Rejects by reason, last hour',
    fact: (f) => f.metrics,
    judge: (m, f, say) => judgeRejects(m, f, say.paypipe),
    onMissing: 'omit',
  }),
  check({
    id: 'probe',
    title: 'Canary probe',
    fact: (f) => f.probe,
    judge: (p, _f, say) => judgeProbe(p.marker, p.hops, p.timeoutMs, say),
  }),
];

/** Every check over the facts, in list order; checks with nothing to say are left out. */
export function judgeAll(f: DoctorFacts): CheckResult[] {
  const say = sayFor(f);
  const out: CheckResult[] = [];
  for (const c of CHECKS) {
    const r = c.run(f, say);
    if (r !== undefined) out.push(r);
  }
  return out;
}

/** The report: every verdict, the probe's hops when it ran, counts, and ok unless something failed. */
export function buildReport(f: DoctorFacts): DoctorReport {
  const checks = judgeAll(f);
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, 'n/a': 0 };
  for (const c of checks) counts[c.status]++;
  const probe = known(f.probe);
  return {
    target: f.target,
    subject: f.subject,
    checks,
    ...(probe === undefined
      ? {}
      : {
          probe: {
            marker: probe.marker,
            currency: probe.currency,
            windowStart: probe.windowStart,
            hops: probe.hops,
          },
        }),
    counts,
    ok: counts.fail === 0,
  };
}
