/**
 * `paypipe up`: the local pipeline in the foreground until Ctrl-C / SIGTERM / SIGHUP (or until the
 * process that started it exits), with a live status line on a terminal (plain periodic lines
 * otherwise), then a bounded stop: Firehose buffers delivered within --stop-timeout, checkpoints
 * saved, servers closed, endpoints.json removed. What the deadline (or a second signal) leaves
 * undelivered is persisted in the data dir and delivered first by the next `up`; the exit status
 * (1) and one line say what and where.
 */
import { resolve } from 'node:path';
import { ConfigError } from '../../pipeline/config.js';
import { PaypipeError, usageError } from '../../errors.js';
import { assertNotRunning } from '../../local/endpoints.js';
import { loadConfig } from '../configuration.js';
import { assemblyFor } from '../local-assembly.js';
import { type LocalPipeline, type StopReport, startLocalPipeline } from '../../local/pipeline.js';
import type { LocalFault, LocalStatus } from '../../local/status.js';
import { shellQuote } from '../hints.js';
import type { Io, Style } from '../io.js';
import { renderStatusLine } from './status-line.js';

export interface UpOptions {
  dataDir: string;
  schedule: boolean;
  shards?: number;
  bufferIntervalSeconds?: number;
  /** The whole stop, from the first signal to exit (default 5 s). */
  stopTimeoutMs?: number;
  /** Stop (as on SIGTERM) when the process that started `up` exits (default true). */
  exitWithParent?: boolean;
  /** Plain status lines this often when stderr is not a terminal (default 10 s). */
  plainIntervalMs?: number;
  /** A cloud assembly to run (default: the cached synthesis of this checkout). */
  assembly?: string;
  /** Resolves with a reason to stop, as a signal would (tests, embedding). */
  until?: Promise<string>;
  /** Called once the pipeline is up (tests). */
  onReady?: (p: LocalPipeline) => void;
}

export interface UpResult {
  dataDir: string;
  kinesisEndpoint: string;
  s3Endpoint: string;
  region: string;
  stoppedBy: string;
  uptimeSeconds: number;
  status: LocalStatus;
  stop: StopReport;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export const DEFAULT_STOP_TIMEOUT_MS = 5000;
/** Kept back from --stop-timeout for persisting what is left and closing the servers. */
const STOP_RESERVE_MS = 1000;
/** How often `up` checks that the process that started it is still there. */
const PARENT_POLL_MS = 500;

const same = (x: string): string => x;
const PLAIN: Style = { bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };
const visibleLength = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;

/**
 * Requests to stop: SIGINT/SIGTERM/SIGHUP, and the parent process going away. The first one starts
 * the stop; every later one asks to hurry it.
 */
class StopRequests {
  readonly first: Promise<string>;
  private resolveFirst: (why: string) => void = () => {};
  private count = 0;
  private onLater: (why: string) => void = () => {};
  private readonly disposers: Array<() => void> = [];

  constructor(o: { exitWithParent: boolean; signals: boolean }) {
    this.first = new Promise((res) => {
      this.resolveFirst = res;
    });
    for (const sig of o.signals ? SIGNALS : []) {
      const h = (): void => this.request(sig);
      process.on(sig, h);
      this.disposers.push(() => process.off(sig, h));
    }
    // Started through `npx` (npm → sh → node) or a wrapper script, a supervisor's SIGTERM can stop
    // at the shell: the parent dies, we are re-parented, and no signal ever reaches us. Noticing the
    // new parent is the only way to stop cleanly then. (Parent 1 or 0 at start: nothing to watch.)
    const parent = process.ppid;
    if (o.signals && o.exitWithParent && parent > 1) {
      const timer = setInterval(() => {
        if (process.ppid !== parent) {
          clearInterval(timer);
          this.request(`parent process ${parent} exited`);
        }
      }, PARENT_POLL_MS);
      timer.unref();
      this.disposers.push(() => clearInterval(timer));
    }
  }

  request(why: string): void {
    this.count++;
    if (this.count === 1) this.resolveFirst(why);
    else this.onLater(why);
  }

  /** From now on, a further request calls f. */
  later(f: (why: string) => void): void {
    this.onLater = f;
  }

  dispose(): void {
    for (const d of this.disposers) d();
  }
}

function banner(p: LocalPipeline, o: UpOptions, style: Style): string {
  const c = p.config;
  const e = p.endpoints;
  const dir = o.dataDir === resolve('.paypipe') ? '' : ` --data-dir ${shellQuote(o.dataDir)}`;
  return [
    style.bold(`Local pipeline running in ${p.dataDir}`),
    `  Kinesis  ${e.kinesisEndpoint}   streams ${c.streams.input.name} (${c.streams.input.shardCount} shards), ${c.streams.output.name}`,
    `  S3       ${e.s3Endpoint}   buckets ${c.buckets.raw}, ${c.buckets.analytics}`,
    `  Firehose buffers ${c.firehose.analytics.bufferIntervalSeconds} s / ${c.firehose.analytics.bufferSizeMiB} MiB; producer schedule ${o.schedule ? c.producer.schedule : 'off'}`,
    `  New aggregates take up to the Firehose buffer interval (${c.firehose.analytics.bufferIntervalSeconds} s) to appear in S3` +
      (c.firehose.analytics.bufferIntervalSeconds > 5
        ? ' (`paypipe up --buffer-interval 1` for seconds).'
        : '.'),
    '',
    `  In another terminal:  paypipe send --local${dir} --count 500`,
    `                        paypipe results --local${dir} --since 15m`,
    `                        paypipe logs --local${dir} --follow`,
    style.dim(
      `  AWS CLI: AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${e.s3Endpoint} s3 ls`,
    ),
    style.dim(
      `  Ctrl-C stops it: buffers delivered for up to ${seconds(o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)}, the rest saved; Ctrl-C again stops at once.`,
    ),
  ].join('\n');
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;
const n = (x: number): string => x.toLocaleString('en-US');

/** One line: what a stop left undelivered, and where it is. */
export function leftBehind(r: StopReport): string {
  const parts: string[] = [];
  for (const p of r.pending) {
    const why = p.reason === undefined ? '' : ` (${p.reason})`;
    const saved = p.records - (p.unsaved?.records ?? 0);
    if (saved > 0) parts.push(`${n(saved)} records of ${p.name}${why} saved in ${p.dir}`);
    if (p.unsaved !== undefined) {
      parts.push(
        `${n(p.unsaved.records)} records of ${p.name} could not be saved (${p.unsaved.reason}) and stay on its source stream`,
      );
    }
  }
  if (r.unprocessed > 0) {
    parts.push(`${n(r.unprocessed)} records read by the aggregator stay on the input stream`);
  }
  return parts.length === 0 ? 'nothing was left undelivered' : parts.join('; ');
}

export async function runUp(o: UpOptions, io: Io): Promise<UpResult> {
  const dataDir = resolve(o.dataDir);
  const stopTimeoutMs = o.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  // Before any output: a second `up` on the same dir is one error line, nothing else.
  assertNotRunning(dataDir);
  // Given `until` (embedded, tests), the caller decides when to stop: no process-wide handlers.
  const requests = new StopRequests({
    exitWithParent: o.exitWithParent ?? true,
    signals: o.until === undefined,
  });
  void o.until?.then((why) => requests.request(why));
  // Our supervisor (or terminal) may be gone by the time we report: a closed pipe is not a crash.
  const quietEpipe = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') io.debugLog(`output: ${e.message}`);
  };
  io.stderr.on('error', quietEpipe);
  const started = Date.now();
  let pipeline: LocalPipeline;
  const spinner = await io.spinner(`Starting the local pipeline in ${dataDir}…`);
  try {
    const assembly = await assemblyFor(loadConfig().config, o.assembly, () =>
      spinner.update('Synthesizing the stack (first local run after a source change)…'),
    );
    spinner.update(`Starting the local pipeline in ${dataDir}…`);
    pipeline = await startLocalPipeline({
      dataDir,
      assembly,
      schedule: o.schedule ? {} : false,
      ...(o.bufferIntervalSeconds === undefined ? {} : { bufferIntervalSeconds: o.bufferIntervalSeconds }),
      // paypipe.config.json (environment dev) and --shards: the same resolution as every command.
      configOverrides: loadConfig({
        flags: o.shards === undefined ? {} : { shardCount: { value: o.shards, flag: '--shards' } },
      }).overrides,
      log: (line) => {
        // Clear the live status line first; the next tick redraws it below the note.
        if (io.interactive) io.stderr.write('\r\u001b[2K');
        if (line.startsWith('note: ')) io.info(line);
        else io.warn(line.replace(/^(warning|error): /, ''));
      },
    });
  } catch (e) {
    spinner.stop();
    requests.dispose();
    io.stderr.off('error', quietEpipe);
    if (e instanceof ConfigError) throw usageError(e.message);
    throw e;
  }
  spinner.stop();
  o.onReady?.(pipeline);
  io.info(banner(pipeline, { ...o, dataDir }, io.errStyle));

  // Live line on a terminal, a plain line now and then (when something changed) otherwise.
  let lastPlain = '';
  const tick = (): void => {
    if (io.quiet) return;
    const status = pipeline.status();
    if (io.interactive) {
      // One terminal row, or the carriage return cannot redraw it.
      const width = (io.stderr.columns ?? 120) - 1;
      let line = renderStatusLine(status, io.errStyle);
      if (visibleLength(line) > width) line = renderStatusLine(status, io.errStyle, { compact: true });
      if (visibleLength(line) > width)
        line = renderStatusLine(status, PLAIN, { compact: true }).slice(0, width);
      io.stderr.write(`\r\u001b[2K${line}`);
      return;
    }
    const line = renderStatusLine(status, io.errStyle);
    if (line !== lastPlain) {
      lastPlain = line;
      io.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
    }
  };
  const timer = setInterval(tick, io.interactive ? 1000 : (o.plainIntervalMs ?? 10_000));
  let stoppedBy: string;
  // Set from callbacks (a fault may come while waiting, or while stopping).
  const seen: { fault?: LocalFault } = {};
  try {
    stoppedBy = await Promise.race([
      requests.first,
      pipeline.fault.then((f) => {
        seen.fault = f;
        return f.kind;
      }),
    ]);
  } finally {
    clearInterval(timer);
    if (io.interactive && !io.quiet) io.stderr.write('\r\u001b[2K');
  }

  let report: StopReport;
  let hurried = false;
  try {
    const fault = seen.fault;
    if (fault !== undefined) {
      // Nothing can be written to a removed data dir; otherwise save what can be saved, at once.
      report = await pipeline.stop(
        fault.kind === 'data-dir-lost' ? { flush: false } : { flush: true, deadlineMs: 0 },
      );
      const left = fault.kind === 'data-dir-lost' ? '' : stopNote(report);
      throw new PaypipeError(fault.kind === 'state' ? 'DATA' : 'IO', `${fault.message}${left}`, {
        hint: fault.hint,
        details: { fault, stop: report },
      });
    }
    io.info(
      `Stopping (${stoppedBy}): delivering buffers for up to ${seconds(stopTimeoutMs)} (Ctrl-C again stops at once)…`,
    );
    requests.later((why) => {
      if (hurried) return;
      hurried = true;
      io.info(`Stopping now (${why}): saving what is not delivered yet…`);
      pipeline.hurry();
    });
    // A fault while delivering (the servers gone, the disk full) ends the waiting too.
    void pipeline.fault.then((f) => {
      seen.fault = f;
      pipeline.hurry();
    });
    report = await pipeline.stop({
      flush: true,
      deadlineMs: Math.max(0, stopTimeoutMs - STOP_RESERVE_MS),
    });
  } finally {
    requests.dispose();
  }
  if (!report.complete) {
    const how =
      seen.fault !== undefined
        ? `stopped on a fault (${seen.fault.message})`
        : hurried
          ? 'stopped at once (second signal)'
          : `stopped after the ${seconds(stopTimeoutMs)} stop timeout`;
    throw new PaypipeError('UNDELIVERED', `${how}: ${leftBehind(report)}`, {
      hint: `nothing is lost: \`paypipe up --data-dir ${shellQuote(dataDir)}\` delivers it first`,
      details: { stop: report },
    });
  }
  const status = pipeline.status();
  io.stderr.off('error', quietEpipe);
  return {
    dataDir,
    kinesisEndpoint: pipeline.endpoints.kinesisEndpoint,
    s3Endpoint: pipeline.endpoints.s3Endpoint,
    region: pipeline.endpoints.region,
    stoppedBy,
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    status,
    stop: report,
  };
}

/** `; <what was left>` for a fault's line, or nothing when nothing was. */
const stopNote = (r: StopReport): string => (r.complete ? '' : `; ${leftBehind(r)}`);

export function renderUp(r: UpResult, style: Style): string {
  return [
    `${style.green('✓')} Local pipeline stopped cleanly after ${r.uptimeSeconds} s (${r.stoppedBy}).`,
    `  ${renderStatusLine(r.status, style)}`,
    `  State kept in ${r.dataDir}; \`paypipe up\` there resumes where it stopped.`,
  ].join('\n');
}

export async function upCommand(o: UpOptions, io: Io): Promise<void> {
  const r = await runUp(o, io);
  io.result(r, renderUp);
}
