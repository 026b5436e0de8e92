/**
 * Starting the local API servers: everything kinesalite and s3rver need at startup lives here
 * (client-side settings live in src/aws/clients.ts). Also the idempotent creation of the streams
 * and buckets that resolveConfig() names.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureStream, type KinesisClient } from '../aws/kinesis.js';
import { ensureBucket, type S3Client } from '../aws/s3.js';
import { childEnv } from '../child-env.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
import { localPaths } from './files.js';

/** kinesalite's stream ARNs use this account id (AWS_ACCOUNT_ID in its process). */
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface LocalServers {
  readonly kinesisEndpoint: string;
  readonly s3Endpoint: string;
  readonly pid: number;
  /**
   * Asks the child to close both servers (leveldb closed cleanly) and waits for it to exit;
   * SIGKILLs it if it has not gone after graceMs (default 5000).
   */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILLs the child (crash simulation; also the fallback of stop). */
  kill(): Promise<void>;
  /** Resolves when the child exits, however it exits (e.g. `signal SIGKILL`, `code 1`). */
  readonly exited: Promise<string>;
}

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * The child script: the compiled dist/local/server-child.js next to this module, or — when this
 * module runs from TypeScript sources (tests) — server-child.ts transpiled by esbuild into a temp
 * file keyed by its content. The child resolves kinesalite/s3rver from PAYPIPE_RESOLVE_FROM.
 */
async function childScript(): Promise<string> {
  const built = fileURLToPath(new URL('./server-child.js', import.meta.url));
  if (existsSync(built)) return built;
  const source = fileURLToPath(new URL('./server-child.ts', import.meta.url));
  const ts = readFileSync(source, 'utf8');
  const hash = createHash('sha256').update(ts).digest('hex').slice(0, 16);
  const out = join(tmpdir(), `paypipe-server-child-${hash}.mjs`);
  if (!existsSync(out)) {
    const { transform } = await import('esbuild');
    const js = await transform(ts, { loader: 'ts', format: 'esm', target: 'node20' });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, js.code);
    renameSync(tmp, out);
  }
  return out;
}

export async function startLocalServers(opts: { dataDir: string; region: string }): Promise<LocalServers> {
  const paths = localPaths(opts.dataDir);
  mkdirSync(paths.kinesis, { recursive: true });
  mkdirSync(paths.s3, { recursive: true });
  const script = await childScript();
  const logFd = openSync(paths.serverLog, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--openssl-legacy-provider', script], {
      stdio: ['pipe', logFd, logFd, 'ipc'],
      env: childEnv({
        // kinesalite builds its stream ARNs from these.
        AWS_REGION: opts.region,
        AWS_ACCOUNT_ID: LOCAL_ACCOUNT_ID,
        PAYPIPE_RESOLVE_FROM: fileURLToPath(import.meta.url),
        PAYPIPE_SERVER_OPTIONS: JSON.stringify({ kinesisPath: paths.kinesis, s3Directory: paths.s3 }),
      }),
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<string>((res) =>
    child.once('exit', (code, signal) => res(signal === null ? `code ${code}` : `signal ${signal}`)),
  );
  // Ignore EPIPE on the watchdog pipe when the child has already gone.
  child.stdin?.on('error', () => {});

  const ready = await new Promise<{ kinesisPort: number; s3Port: number }>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(
        new PaypipeError('TIMEOUT', `local servers did not start within ${STARTUP_TIMEOUT_MS / 1000} s`, {
          hint: `see ${paths.serverLog}`,
        }),
      );
    }, STARTUP_TIMEOUT_MS);
    child.on('message', (m: { type?: string; kinesisPort?: number; s3Port?: number; message?: string }) => {
      if (m.type === 'ready' && m.kinesisPort !== undefined && m.s3Port !== undefined) {
        clearTimeout(timer);
        res({ kinesisPort: m.kinesisPort, s3Port: m.s3Port });
      } else if (m.type === 'error') {
        clearTimeout(timer);
        const locked = /lock/i.test(m.message ?? '');
        rej(
          new PaypipeError(
            'IO',
            `local servers failed to start in ${opts.dataDir}: ${m.message ?? 'unknown error'}`,
            {
              hint: locked
                ? 'another process holds this data directory; stop it or use another --data-dir'
                : `see ${paths.serverLog}`,
            },
          ),
        );
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(
        new PaypipeError('IO', `local servers exited during startup (${signal ?? `code ${code}`})`, {
          hint: `see ${paths.serverLog}`,
        }),
      );
    });
  });
  // The parent must not wait on the child to exit (the child goes when we go).
  child.unref();
  (child.stdin as unknown as { unref?: () => void })?.unref?.();
  const channel = (child as unknown as { channel?: { unref(): void } }).channel;
  channel?.unref();

  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  // While waiting for the child to go, it must keep the event loop (and so the caller) alive.
  const waitExit = async (): Promise<void> => {
    child.ref();
    await exited;
  };
  const kill = async (): Promise<void> => {
    if (alive()) child.kill('SIGKILL');
    await waitExit();
  };
  return {
    kinesisEndpoint: `http://127.0.0.1:${ready.kinesisPort}`,
    s3Endpoint: `http://127.0.0.1:${ready.s3Port}`,
    pid: child.pid ?? -1,
    exited,
    stop: async (graceMs = 5000) => {
      if (!alive()) return;
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await waitExit();
      clearTimeout(timer);
    },
    kill,
  };
}

/** Creates the input/output streams and the two buckets if they are missing; never recreates. */
export async function provisionResources(
  config: PipelineConfig,
  kinesis: KinesisClient,
  s3: S3Client,
): Promise<{ created: string[]; inputShards: number }> {
  const created: string[] = [];
  let inputShards = config.streams.input.shardCount;
  for (const stream of [config.streams.input, config.streams.output]) {
    const r = await ensureStream(kinesis, stream.name, stream.shardCount);
    if (r.created) created.push(stream.name);
    if (stream === config.streams.input) inputShards = r.openShards;
  }
  for (const bucket of [config.buckets.raw, config.buckets.analytics]) {
    if (await ensureBucket(s3, bucket)) created.push(bucket);
  }
  return { created, inputShards };
}
