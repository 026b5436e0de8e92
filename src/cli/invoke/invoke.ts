/**
 * The `invoke` action: an event (file, stdin or a generated sample), one synchronous invocation —
 * on AWS through Lambda's Invoke API with LogType Tail, locally through the local pipeline's
 * runtime (the cloud assembly's bundle, environment, timeout and role checks) — and its response
 * and log lines as one typed result.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PaypipeError, usageError } from '../../errors.js';
import { generateEvents } from '../../domain/generator.js';
import { serializeEvent } from '../../domain/event.js';
import { kinesisEvent, type SourceRecord } from '../../lambdas/lib/kinesis-event.js';
import type { PipelineConfig } from '../../pipeline/config.js';
import type { Io, Style } from '../io.js';
import { ioFor } from '../options.js';
import { parseScenario } from '../scenario.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import type { InvokeFlags, InvokeFunction } from './flags.js';

export interface InvokeResult {
  function: InvokeFunction;
  functionName: string;
  where: 'aws' | 'local';
  /** The response payload, parsed when it is JSON. */
  response: unknown;
  /** Set when the function (or the runtime loading it) failed: Lambda's error document. */
  error?: { errorType: string; errorMessage: string; trace?: string[] } | undefined;
  /** The invocation's log lines (on AWS the last 4 KB Lambda returns). */
  logs: string[];
  /** Locally: calls the role's policies denied (AWS's AccessDenied messages). */
  accessDenied?: string[];
  /** Locally: the bundle that ran (sha256 of its files). */
  bundleHash?: string;
  durationMs: number;
}

const sampleSequence = (i: number): string => `4959${String(i + 1).padStart(52, '0')}`;

/** The sample event the function gets in the pipeline (see the command's help). */
export function sampleEvent(
  fn: InvokeFunction,
  flags: Pick<InvokeFlags, 'count' | 'seed' | 'scenario'>,
  config: PipelineConfig,
  o: { region: string; accountId: string; nowMs: number },
): unknown {
  if (fn === 'producer') {
    if (flags.count !== undefined) return { count: flags.count };
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: o.accountId,
      time: new Date(o.nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: o.region,
      resources: [`arn:aws:events:${o.region}:${o.accountId}:rule/${config.stackName}-producer-schedule`],
      detail: {},
    };
  }
  let scenario = {};
  let spanMs = 5 * 60_000;
  if (flags.scenario !== undefined) {
    const parsed = parseScenario(flags.scenario);
    scenario = parsed.scenario;
    if (parsed.spanMs > 0) spanMs = parsed.spanMs;
  }
  const count = flags.count ?? 10;
  const records: SourceRecord[] = [];
  const gen = generateEvents({ seed: flags.seed, nowMs: o.nowMs, spanMs, scenario });
  for (let i = 0; i < count; i++) {
    const r = gen.next().value;
    const data = r.kind === 'event' ? serializeEvent(r.event) : r.data;
    const partitionKey = r.kind === 'event' ? r.event.transaction_id : r.partitionKey;
    records.push({
      shardId: 'shardId-000000000000',
      sequenceNumber: sampleSequence(i),
      partitionKey,
      data: Buffer.from(data),
      arrivalMs: o.nowMs,
    });
  }
  return kinesisEvent(records, {
    region: o.region,
    streamArn: `arn:aws:kinesis:${o.region}:${o.accountId}:stream/${config.streams.input.name}`,
    invokeIdentityArn: `arn:aws:iam::${o.accountId}:role/${config.aggregator.functionName}-role`,
  });
}

function readEvent(source: string, fn: InvokeFunction): unknown {
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (e) {
    throw usageError(
      `--event ${source} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'pass a JSON file, or - to read the event from stdin',
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw usageError(
      `--event ${source === '-' ? '(stdin)' : source} is not JSON: ${(e as Error).message}`,
      fn === 'producer'
        ? 'generate a valid one with `paypipe invoke producer --print-event > event.json`'
        : 'generate a valid one with `paypipe invoke aggregator --print-event > event.json`',
    );
  }
}

/** What kind of event a JSON value is, as the check below names it. */
type EventShape =
  | { kind: 'kinesis-batch'; records: number }
  | { kind: 'other-records'; source: string; records: number }
  | { kind: 'scheduled' }
  | { kind: 'eventbridge'; detailType: string }
  | { kind: 'producer-input'; keys: string[] }
  | { kind: 'other'; what: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys the producer reads from its event (the schedule rule's input): anything else is not for it. */
const PRODUCER_KEYS = ['count', 'seed'];

function eventShape(event: unknown): EventShape {
  if (!isObject(event)) {
    const what = event === null ? 'null' : Array.isArray(event) ? 'a JSON array' : `a JSON ${typeof event}`;
    return { kind: 'other', what };
  }
  if (Array.isArray(event.Records)) {
    const records = event.Records as unknown[];
    const kinesis = records.every((r) => isObject(r) && isObject(r.kinesis));
    if (kinesis) return { kind: 'kinesis-batch', records: records.length };
    const first = records.find(isObject);
    const source = String(first?.eventSource ?? first?.EventSource ?? 'another service');
    return { kind: 'other-records', source, records: records.length };
  }
  const detailType = event['detail-type'];
  if (typeof detailType === 'string') {
    return detailType === 'Scheduled Event' ? { kind: 'scheduled' } : { kind: 'eventbridge', detailType };
  }
  const keys = Object.keys(event);
  if (keys.every((k) => PRODUCER_KEYS.includes(k))) return { kind: 'producer-input', keys };
  const shown = keys.slice(0, 4).map((k) => JSON.stringify(k));
  return {
    kind: 'other',
    what: `an object with keys ${shown.join(', ')}${keys.length > 4 ? ', …' : ''}`,
  };
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

function describeShape(s: EventShape): string {
  switch (s.kind) {
    case 'kinesis-batch':
      return `a Kinesis batch event ({"Records": [{"kinesis": …}]}, ${plural(s.records, 'record')})`;
    case 'other-records':
      return `a batch of ${plural(s.records, 'record')} from ${s.source} ({"Records": […]})`;
    case 'scheduled':
      return 'an EventBridge Scheduled Event (a schedule event)';
    case 'eventbridge':
      return `an EventBridge "${s.detailType}" event`;
    case 'producer-input':
      return s.keys.length === 0
        ? 'an empty object (a schedule event)'
        : `a schedule rule's input ({${s.keys.map((k) => `"${k}": …`).join(', ')}})`;
    case 'other':
      return s.what;
  }
}

/**
 * Adversary: an event meant for the other function (a Kinesis batch saved with `invoke aggregator
 * --print-event`, given to the producer). The producer reads only `count` and `seed`, so any
 * object "works" there: a batch ran as a count-less schedule event, producing the default number
 * of payments. The aggregator reads `Records`, so a schedule event ran as an empty batch. Each
 * function takes only the shapes its trigger sends.
 */
export function checkEventFor(fn: InvokeFunction, event: unknown, source: string): void {
  const shape = eventShape(event);
  const ok =
    fn === 'producer'
      ? shape.kind === 'scheduled' || shape.kind === 'producer-input'
      : shape.kind === 'kinesis-batch';
  if (ok) return;
  const file = source === '-' ? '--event - (stdin)' : `--event ${source}`;
  const expects =
    fn === 'producer'
      ? 'the producer expects a schedule event: EventBridge\'s Scheduled Event, or the rule\'s input {"count": n}'
      : 'the aggregator expects a Kinesis batch event: {"Records": [{"kinesis": {…}}, …]}';
  throw usageError(
    `${file} is ${describeShape(shape)}; ${expects}`,
    `see one with \`paypipe invoke ${fn} --print-event\``,
  );
}

const parsePayload = (text: string): unknown => {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
};

async function invokeLocal(
  fn: InvokeFunction,
  event: unknown,
  t: Extract<ResolvedTarget, { kind: 'local' }>,
): Promise<InvokeResult> {
  const [{ readLocalStatus }, { readAssembly }, { assemblyFunction, LOCAL_ACCOUNT }, { FunctionError }] =
    await Promise.all([
      import('../../local/status.js'),
      import('../../local/assembly.js'),
      import('../../local/assembly-function.js'),
      import('../../local/function-runtime.js'),
    ]);
  // The assembly the running pipeline loaded: the very bundle its functions run.
  const status = await readLocalStatus(t.dataDir);
  let dir = status?.assembly;
  if (dir === undefined) {
    const [{ prepareLocalAssembly }, { loadConfig }] = await Promise.all([
      import('../local-assembly.js'),
      import('../configuration.js'),
    ]);
    dir = (await prepareLocalAssembly(loadConfig().config)).dir;
  }
  const assembly = readAssembly(dir, { region: t.region, accountId: LOCAL_ACCOUNT, config: t.config });
  const logs: string[] = [];
  const denied: string[] = [];
  const built = assemblyFunction<unknown, unknown>({
    assembly,
    role: fn,
    config: t.config,
    endpoints: t.clientTarget,
    dataDir: t.dataDir,
    onDenied: (_who, d) => denied.push(d.message),
    onLog: (m) => logs.push(m),
  });
  const started = performance.now();
  try {
    const response = await built.fn.invoke(event);
    return {
      function: fn,
      functionName: built.running.functionName,
      where: 'local',
      response,
      logs,
      ...(denied.length === 0 ? {} : { accessDenied: denied }),
      bundleHash: built.running.bundleHash,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (e) {
    if (!(e instanceof FunctionError)) throw e;
    return {
      function: fn,
      functionName: built.running.functionName,
      where: 'local',
      response: e.document(),
      error: e.document(),
      logs,
      ...(denied.length === 0 ? {} : { accessDenied: denied }),
      bundleHash: built.running.bundleHash,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await built.fn.close();
  }
}

async function invokeAws(
  fn: InvokeFunction,
  event: unknown,
  t: Extract<ResolvedTarget, { kind: 'aws' }>,
): Promise<InvokeResult> {
  const [{ awsOnlyClients }, { invokeWithLog }] = await Promise.all([
    import('../../aws/clients.js'),
    import('../../aws/lambda.js'),
  ]);
  const name = fn === 'producer' ? t.names.producerFunction : t.names.aggregatorFunction;
  const lambda = await (await awsOnlyClients(t.clientTarget, { maxAttempts: 3 })).lambda();
  const started = performance.now();
  try {
    const out = await invokeWithLog(lambda, name, event);
    const response = parsePayload(out.payload);
    return {
      function: fn,
      functionName: name,
      where: 'aws',
      response,
      ...(out.functionError === undefined
        ? {}
        : { error: response as { errorType: string; errorMessage: string; trace?: string[] } }),
      logs: out.log.split('\n').filter((l) => l !== ''),
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    lambda.destroy();
  }
}

export async function runInvoke(
  fn: InvokeFunction,
  flags: InvokeFlags,
  io: Io,
): Promise<InvokeResult | unknown> {
  // A bad --event is a usage error before anything else (no pipeline, no credentials needed).
  const given = flags.event === undefined ? undefined : readEvent(flags.event, fn);
  if (flags.event !== undefined) checkEventFor(fn, given, flags.event);
  if (flags.printEvent === true && given !== undefined) return given;
  if (flags.printEvent === true) {
    // Only the configuration: printing a sample needs no pipeline and no credentials.
    const { loadEnvironment } = await import('../configuration.js');
    const { loaded, aws } = loadEnvironment(flags);
    return sampleEvent(fn, flags, loaded.config, {
      region: aws.region,
      accountId: '123456789012',
      nowMs: Date.now(),
    });
  }
  // Adversary: a sample batch of invented payments added to a real account's totals by someone who
  // only wanted to see the function run. The aggregator's output is never a dry run. Checked before
  // the target is resolved: no credentials needed to be told.
  if (fn === 'aggregator' && flags.local !== true && flags.yes !== true) {
    throw usageError(
      "invoke aggregator on AWS writes its aggregates and dead letters into the stack's real output: results would count these payments",
      'add --yes to do it anyway, or try it on the local pipeline with --local',
    );
  }
  const t = await resolveTarget(flags, {
    need: [fn === 'producer' ? 'producerFunction' : 'aggregatorFunction'],
  });
  const event =
    given !== undefined
      ? given
      : sampleEvent(fn, flags, t.config, {
          region: t.region,
          accountId: t.kind === 'local' ? '000000000000' : '123456789012',
          nowMs: Date.now(),
        });
  if (fn === 'aggregator') {
    io.warn(
      `the aggregator writes this batch's aggregates to the output stream (and its bad records to dead letters): results counts them, and reconcile reports them as not in the raw archive`,
    );
  }
  const spinner = await io.spinner(`Invoking the ${fn}${t.kind === 'local' ? ' (local)' : ''}…`);
  try {
    const r = t.kind === 'local' ? await invokeLocal(fn, event, t) : await invokeAws(fn, event, t);
    spinner.stop();
    return r;
  } catch (e) {
    spinner.fail(`The ${fn} could not be invoked`);
    throw e;
  }
}

export function renderInvoke(r: InvokeResult, s: Style): string {
  const lines: string[] = [];
  if (r.logs.length > 0) {
    lines.push(s.bold(`Logs (${r.functionName}, ${r.where === 'local' ? 'local' : 'last 4 KB'}):`));
    for (const l of r.logs) lines.push(`  ${l}`);
    lines.push('');
  }
  for (const d of r.accessDenied ?? []) lines.push(s.red(`AccessDenied: ${d}`));
  lines.push(s.bold(r.error === undefined ? 'Response:' : s.red('Error:')));
  lines.push(JSON.stringify(r.response, null, 2));
  if (r.bundleHash !== undefined)
    lines.push(s.dim(`bundle sha256 ${r.bundleHash.slice(0, 16)}…, ${r.durationMs} ms`));
  return lines.join('\n');
}

export async function invokeCommand(fn: InvokeFunction, flags: InvokeFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const r = await runInvoke(fn, flags, io);
  if (flags.printEvent === true) {
    io.result(r, (v) => JSON.stringify(v, null, 2));
    return;
  }
  const result = r as InvokeResult;
  io.result(result, renderInvoke);
  if (result.error !== undefined) {
    throw new PaypipeError(
      'CHECK_FAILED',
      `the ${fn} returned an error: ${result.error.errorType}: ${result.error.errorMessage}`,
      {
        hint:
          result.where === 'local'
            ? `see its log lines above (also \`paypipe logs --local ${fn}\`)`
            : `see its log lines above (all of them: \`paypipe logs ${fn}\`)`,
      },
    );
  }
}
