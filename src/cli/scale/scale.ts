/**
 * `paypipe scale`: the input stream's capacity, shown or changed — a mode switch (UpdateStreamMode)
 * and/or a uniform resharding (UpdateShardCount) — with progress until the stream is ACTIVE at the
 * new capacity. Every call goes through src/aws/kinesis.ts.
 */
import type { KinesisClient, StreamSummary } from '../../aws/kinesis.js';
import { PaypipeError, usageError } from '../../errors.js';
import type { Io, Style } from '../io.js';
import { resolveTarget } from '../target.js';
import type { ScaleFlags } from './flags.js';

export interface Capacity {
  mode: 'ON_DEMAND' | 'PROVISIONED' | 'unknown';
  shards: number;
}

export interface ScaleResult {
  stream: string;
  before: Capacity;
  after: Capacity;
  changed: boolean;
  /** False when --no-wait returned before the stream was ACTIVE again. */
  settled: boolean;
  note?: string | undefined;
}

export interface ScaleDeps {
  kinesis?: KinesisClient;
  /** Between polls of the stream (tests inject one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  pollMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

const capacityOf = (s: StreamSummary): Capacity => ({ mode: s.mode ?? 'unknown', shards: s.openShards ?? 0 });

export async function runScale(flags: ScaleFlags, io: Io, deps: ScaleDeps = {}): Promise<ScaleResult> {
  if (flags.shards !== undefined && flags.onDemand === true) {
    throw usageError(
      '--shards and --on-demand exclude each other',
      'pick one: a shard count is provisioned mode',
    );
  }
  const target = await resolveTarget(flags);
  const k = await import('../../aws/kinesis.js');
  const kinesis =
    deps.kinesis ?? (await (await import('../../aws/clients.js')).kinesisClient(target.clientTarget));
  const stream = target.names.inputStream;
  const describe = async (): Promise<StreamSummary> => {
    const s = await k.describeStreamSummary(kinesis, stream);
    if (s === undefined)
      throw new PaypipeError('AWS', `stream ${stream} not found`, { hint: 'deploy the stack first' });
    return s;
  };
  const current = await describe();
  const before = capacityOf(current);
  const want: Capacity | undefined =
    flags.onDemand === true
      ? { mode: 'ON_DEMAND', shards: before.shards }
      : flags.shards !== undefined
        ? { mode: 'PROVISIONED', shards: flags.shards }
        : undefined;
  const configured = `set shardCount and capacityMode in paypipe.config.json to keep it (the next deploy restores ${target.config.streams.input.capacityMode === 'ON_DEMAND' ? 'on-demand' : `${target.config.streams.input.shardCount} provisioned shards`})`;
  const unchanged = (note?: string): ScaleResult => ({
    stream,
    before,
    after: before,
    changed: false,
    settled: current.status === 'ACTIVE',
    note,
  });
  if (want === undefined) {
    return unchanged(
      current.status === 'UPDATING' ? 'resharding or a mode switch is in progress (UPDATING)' : undefined,
    );
  }
  if (target.kind === 'local') {
    throw usageError(
      'the local stream has no write limits to scale (kinesalite never throttles)',
      `to run the local pipeline with other shards, set shardCount in paypipe.config.json and restart \`paypipe up\``,
    );
  }
  if (want.mode === before.mode && (want.mode === 'ON_DEMAND' || want.shards === before.shards)) {
    return unchanged(`already ${describeCapacity(before)}`);
  }
  if (current.status !== 'ACTIVE') {
    throw new PaypipeError(
      'AWS',
      `stream ${stream} is ${current.status ?? 'not ACTIVE'}: a resharding or mode switch is in progress`,
      { hint: 'wait for it to finish (paypipe doctor shows it), then run scale again' },
    );
  }
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  const pollMs = deps.pollMs ?? 5000;
  const deadline = now() + (deps.timeoutMs ?? 30 * 60_000);
  const spinner = await io.spinner(`${stream}: ${describeCapacity(before)} → ${describeCapacity(want)}`);
  const settle = async (goal: Capacity): Promise<StreamSummary> => {
    for (;;) {
      const s = await describe();
      const c = capacityOf(s);
      spinner.update(`${stream}: ${s.status}, ${describeCapacity(c)} (→ ${describeCapacity(goal)})`);
      if (
        s.status === 'ACTIVE' &&
        c.mode === goal.mode &&
        (goal.mode === 'ON_DEMAND' || c.shards === goal.shards)
      ) {
        return s;
      }
      if (now() > deadline) {
        spinner.fail();
        throw new PaypipeError('TIMEOUT', `${stream} is still ${s.status} at ${describeCapacity(c)}`, {
          hint: 'it continues on AWS: check again with paypipe scale',
        });
      }
      await sleep(pollMs);
    }
  };
  try {
    let s = current;
    if (want.mode !== before.mode) {
      if (s.arn === undefined)
        throw new PaypipeError('AWS', `DescribeStreamSummary gave no ARN for ${stream}`);
      await k.updateStreamMode(kinesis, s.arn, want.mode as 'ON_DEMAND' | 'PROVISIONED');
      if (flags.wait === false && want.mode === 'ON_DEMAND') {
        spinner.succeed(`${stream}: switching to on-demand (not waiting)`);
        return { stream, before, after: want, changed: true, settled: false, note: configured };
      }
      s = await settle({ mode: want.mode, shards: capacityOf(s).shards });
    }
    if (want.mode === 'PROVISIONED' && capacityOf(s).shards !== want.shards) {
      await k.updateShardCount(kinesis, stream, want.shards);
      if (flags.wait === false) {
        spinner.succeed(`${stream}: resharding to ${want.shards} (not waiting)`);
        return { stream, before, after: want, changed: true, settled: false, note: configured };
      }
      s = await settle(want);
    }
    const after = capacityOf(s);
    spinner.succeed(`${stream}: ${describeCapacity(after)}`);
    return { stream, before, after, changed: true, settled: true, note: configured };
  } catch (e) {
    spinner.stop();
    throw e;
  }
}

export function describeCapacity(c: Capacity): string {
  if (c.mode === 'ON_DEMAND') return 'on-demand';
  return `${c.shards} ${c.shards === 1 ? 'shard' : 'shards'} (${(c.shards * 1000).toLocaleString('en-US')} records/s, ${c.shards} MiB/s)`;
}

export function renderScale(r: ScaleResult, style: Style): string {
  const lines = [
    r.changed
      ? `${r.stream}: ${describeCapacity(r.before)} → ${style.bold(describeCapacity(r.after))}${r.settled ? '' : ' (in progress)'}`
      : `${r.stream}: ${describeCapacity(r.before)}`,
  ];
  if (r.note !== undefined) lines.push(style.dim(`note: ${r.note}`));
  return `${lines.join('\n')}\n`;
}
