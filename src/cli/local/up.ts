/**
 * `paypipe up`: runs the local pipeline in the foreground until Ctrl-C / SIGTERM, with a live status
 * line on a terminal (plain periodic lines otherwise), then stops cleanly: Firehose buffers
 * delivered, checkpoints saved, servers closed, endpoints.json removed.
 */
import { join, resolve } from 'node:path';
import { ConfigError } from '../../pipeline/config.js';
import { PaypipeError, usageError } from '../../errors.js';
import { assertNotRunning } from '../../local/endpoints.js';
import { loadConfig } from '../configuration.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline.js';
import type { LocalStatus } from '../../local/status.js';
import { shellQuote } from '../hints.js';
import type { Io, Style } from '../io.js';
import { renderStatusLine } from './status-line.js';

export interface UpOptions {
  dataDir: string;
  schedule: boolean;
  shards?: number;
  bufferIntervalSeconds?: number;
  /** Plain status lines this often when stderr is not a terminal (default 10 s). */
  plainIntervalMs?: number;
  /** Resolves with the reason to stop (default: SIGINT, SIGTERM or SIGHUP). */
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
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const same = (x: string): string => x;
const PLAIN: Style = { bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };
const visibleLength = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;

function signalPromise(): { promise: Promise<string>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<string>((res) => {
    const handlers = SIGNALS.map((sig) => {
      const h = (): void => res(sig);
      process.on(sig, h);
      return [sig, h] as const;
    });
    dispose = () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
  });
  return { promise, dispose };
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
    style.dim('  Ctrl-C stops it (buffers flushed, checkpoints saved).'),
  ].join('\n');
}

export async function runUp(o: UpOptions, io: Io): Promise<UpResult> {
  const dataDir = resolve(o.dataDir);
  // Before any output: a second `up` on the same dir is one error line, nothing else.
  assertNotRunning(dataDir);
  const signals = o.until === undefined ? signalPromise() : undefined;
  const until = o.until ?? (signals as { promise: Promise<string> }).promise;
  const started = Date.now();
  let pipeline: LocalPipeline;
  const spinner = await io.spinner(`Starting the local pipeline in ${dataDir}…`);
  try {
    pipeline = await startLocalPipeline({
      dataDir,
      schedule: o.schedule ? {} : false,
      ...(o.bufferIntervalSeconds === undefined ? {} : { bufferIntervalSeconds: o.bufferIntervalSeconds }),
      // paypipe.config.json (environment dev) and --shards: the same resolution as every command.
      configOverrides: loadConfig({
        flags: o.shards === undefined ? {} : { shardCount: { value: o.shards, flag: '--shards' } },
      }).overrides,
      log: (line) => {
        // Clear the live status line first; the next tick redraws it below the note.
        if (io.interactive) io.stderr.write('\r\u001b[2K');
        io.warn(line.replace(/^warning: /, ''));
      },
    });
  } catch (e) {
    spinner.stop();
    signals?.dispose();
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
  let lost: string | undefined;
  try {
    stoppedBy = await Promise.race([
      until,
      pipeline.serversLost.then((why) => {
        lost = why;
        return 'servers lost';
      }),
    ]);
  } finally {
    clearInterval(timer);
    if (io.interactive && !io.quiet) io.stderr.write('\r\u001b[2K');
  }
  if (lost !== undefined) {
    await pipeline.stop({ flush: false });
    signals?.dispose();
    throw new PaypipeError('IO', lost, {
      hint: `see ${join(dataDir, 'servers.log')}; state is checkpointed, \`paypipe up\` again resumes`,
    });
  }
  io.info(`Stopping (${stoppedBy}): delivering buffers, saving checkpoints…`);
  try {
    await pipeline.stop({ flush: true });
  } catch (e) {
    throw new PaypipeError('IO', `the local pipeline did not stop cleanly: ${(e as Error).message}`, {
      hint: 'state is checkpointed; `paypipe up` again resumes where it stopped',
      cause: e,
    });
  } finally {
    signals?.dispose();
  }
  const status = pipeline.status();
  return {
    dataDir,
    kinesisEndpoint: pipeline.endpoints.kinesisEndpoint,
    s3Endpoint: pipeline.endpoints.s3Endpoint,
    region: pipeline.endpoints.region,
    stoppedBy,
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    status,
  };
}

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
