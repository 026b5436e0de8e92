/**
 * Test scaffolding for the data-path commands: real local servers (kinesalite + s3rver, the local
 * pipeline's own server child) with the pipeline's streams and buckets but no pollers, so tests
 * control exactly what is in S3 and on the streams. `pointCliAt` writes the endpoints file the CLI
 * reads with `--local --data-dir`, optionally aimed at a fault proxy instead of the servers.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { type PipelineConfig, resolveConfig } from '../../src/pipeline/config.js';
import { localTarget, writeLocalEndpoints } from '../../src/local/endpoints.js';
import { provisionResources, startLocalServers } from '../../src/local/servers.js';

export interface TestServers {
  dataDir: string;
  config: PipelineConfig;
  kinesisEndpoint: string;
  s3Endpoint: string;
  kinesis: KinesisClient;
  s3: S3Client;
  /** (Re)writes <dataDir>/endpoints.json so `paypipe … --local --data-dir` reaches these (or other) endpoints. */
  pointCliAt(endpoints?: { kinesis?: string; s3?: string }): void;
  close(): Promise<void>;
}

export async function startTestServers(): Promise<TestServers> {
  const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-data-'));
  const config = resolveConfig({});
  const servers = await startLocalServers({ dataDir, region: config.region });
  const target = localTarget({ region: config.region, ...servers });
  const kinesis = await kinesisClient(target);
  const s3 = await s3Client(target);
  await provisionResources(config, kinesis, s3);
  const pointCliAt = (e: { kinesis?: string; s3?: string } = {}): void =>
    writeLocalEndpoints(dataDir, {
      pid: process.pid,
      kinesisEndpoint: e.kinesis ?? servers.kinesisEndpoint,
      s3Endpoint: e.s3 ?? servers.s3Endpoint,
      region: config.region,
      startedAt: new Date().toISOString(),
      configOverrides: {},
    });
  pointCliAt();
  return {
    dataDir,
    config,
    kinesisEndpoint: servers.kinesisEndpoint,
    s3Endpoint: servers.s3Endpoint,
    kinesis,
    s3,
    pointCliAt,
    close: async () => {
      kinesis.destroy();
      s3.destroy();
      await servers.stop().catch(() => servers.kill());
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = new URL('../../bin/paypipe.js', import.meta.url).pathname;

/** Runs the built CLI (dist/, `npm run build`) as a user would. */
export function cli(
  args: readonly string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: opts.cwd,
        env: {
          ...process.env,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          NO_COLOR: '1',
          // Never reach a real AWS account from tests.
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          AWS_PROFILE: '',
          ...opts.env,
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * Runs a paypipe bin (this checkout's, or another copy's) with exactly the environment given:
 * only PATH and HOME are passed on, so no AWS variable or config of the machine leaks in.
 */
export function runBinHermetic(
  bin: string,
  args: readonly string[],
  opts: { cwd: string; home?: string; env?: Record<string, string> },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd,
      env: {
        PATH: process.env.PATH,
        HOME: opts.home ?? opts.cwd,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
