/**
 * `paypipe up` as a real process (a private build of the CLI), for the suites that stop, kill and
 * starve it: the suite's set-up and clean-up (upSuite), start it (optionally with `node --import`
 * preloads from test/fault/preload, in its own process group, or behind a shell), wait for its
 * endpoints, and watch it exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import type { LocalEndpoints } from '../../src/local/endpoints.js';
import type { LocalStatus } from '../../src/local/status.js';
import { type BuiltCli, buildCli, runCli } from './build-cli.js';
import { baseEnv } from './built-cli.js';
import { tempDataDir } from './local-pipeline.js';
import { waitFor } from './wait-for.js';

/** Polls f until it returns something other than undefined/false. */
export async function until<T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  return waitFor(f, what, ms, 25);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() at exit. */
  at: number;
}

export interface UpProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

/** Every process started here; killed after the suite whatever happened. */
const started: ChildProcess[] = [];

export function killAll(): void {
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        // Own group when detached: take the whole group.
        if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
      } catch {
        c.kill('SIGKILL');
      }
    }
  }
}

/** A preload script of test/fault/preload (fault injection from inside the process), for spawnCli. */
export const preload = (name: string): string =>
  new URL(`../fault/preload/${name}`, import.meta.url).pathname;

export interface UpSuite {
  /** The suite's private build of the CLI (made before its first test). */
  readonly cli: BuiltCli;
  /** A fresh temporary data directory, removed after the suite. */
  dataDir(label: string): string;
  /** Paths (files or directories) to remove after the suite. */
  removeLater(...paths: string[]): void;
  /** A process not started through spawnCli (found through a shell, npx), to kill after the suite. */
  killLater(pid: number): void;
}

/**
 * The set-up every `up` process suite shares: a private build of the CLI before the suite; after
 * it, every process started here (and every pid given to killLater) killed whatever happened, the
 * build and every temporary path removed.
 */
export function upSuite(): UpSuite {
  let built: BuiltCli | undefined;
  const paths: string[] = [];
  const pids: number[] = [];
  beforeAll(async () => {
    built = await buildCli();
  }, 60_000);
  afterAll(() => {
    killAll();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    built?.cleanup();
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  });
  return {
    get cli(): BuiltCli {
      if (built === undefined)
        throw new Error('upSuite: the CLI is built in beforeAll; use it inside a test');
      return built;
    },
    dataDir: (label) => {
      const d = tempDataDir(label);
      paths.push(d);
      return d;
    },
    removeLater: (...more) => {
      paths.push(...more);
    },
    killLater: (pid) => {
      pids.push(pid);
    },
  };
}

export function env(cli: BuiltCli, extra: Record<string, string> = {}): Record<string, string> {
  return { ...baseEnv(), HOME: cli.dir, ...extra };
}

/** Spawns `node [--import preload…] <bin> <args>`; returns at once. */
export function spawnCli(
  cli: BuiltCli,
  args: string[],
  o: { preload?: string[]; env?: Record<string, string>; detached?: boolean } = {},
): UpProcess {
  const imports = (o.preload ?? []).flatMap((p) => ['--import', pathToFileURL(p).href]);
  const child = spawn(process.execPath, [...imports, cli.bin, ...args], {
    cwd: cli.dir,
    env: env(cli, o.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.detached === true,
  });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<Exit>((r) =>
    child.once('exit', (code, signal) => r({ code, signal, at: performance.now() })),
  );
  return { child, pid: child.pid as number, stdout: () => out, stderr: () => err, exited };
}

export function readEndpoints(dataDir: string): LocalEndpoints | undefined {
  const file = join(dataDir, 'endpoints.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
  } catch {
    return undefined; // mid-rename
  }
}

export function readStatus(dataDir: string): LocalStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'status.json'), 'utf8')) as LocalStatus;
  } catch {
    return undefined;
  }
}

/** Waits until the pipeline run by process `pid` has written its endpoints. */
export function endpointsOf(up: UpProcess | number, dataDir: string, ms = 30_000): Promise<LocalEndpoints> {
  const pid = typeof up === 'number' ? up : up.pid;
  return until(
    `endpoints.json of process ${pid}`,
    () => {
      if (typeof up !== 'number' && up.child.exitCode !== null) {
        throw new Error(`up exited ${up.child.exitCode}: ${up.stderr()}`);
      }
      const ep = readEndpoints(dataDir);
      return ep?.pid === pid ? ep : undefined;
    },
    ms,
  );
}

export const UP_ARGS = (dataDir: string): string[] => [
  'up',
  '--data-dir',
  dataDir,
  '--no-schedule',
  '--buffer-interval',
  '1',
];

/** `paypipe send --local --json` of `count` events; writes the summary to `file` and returns it. */
export async function send(
  cli: BuiltCli,
  dataDir: string,
  count: number,
  file: string,
): Promise<{ sent: number; failed: number }> {
  const r = await runCli(
    cli,
    ['send', '--local', '--data-dir', dataDir, '--count', String(count), '--json'],
    {
      env: env(cli),
      timeoutMs: 60_000,
    },
  );
  if (r.code !== 0) throw new Error(`send failed (${r.code}): ${r.stderr}`);
  writeFileSync(file, r.stdout);
  return JSON.parse(r.stdout) as { sent: number; failed: number };
}

/** Polls `paypipe results --verify` until the aggregates in S3 match the summary. */
export async function verified(
  cli: BuiltCli,
  dataDir: string,
  summaryFile: string,
  ms = 60_000,
): Promise<void> {
  let last = '';
  await until(
    `results --verify ${summaryFile} to match (last: ${last})`,
    async () => {
      const r = await runCli(
        cli,
        ['results', '--local', '--data-dir', dataDir, '--verify', summaryFile, '--json'],
        {
          env: env(cli),
          timeoutMs: 60_000,
        },
      );
      last = r.stderr.trim().split('\n').at(-1) ?? '';
      return r.code === 0;
    },
    ms,
  );
}

/** Pids (other than ours) whose command line or environment names the data dir. */
export function processesUsing(dir: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const text =
        readFileSync(`/proc/${pid}/cmdline`, 'latin1') + readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (text.includes(dir)) out.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

/** The last line of stderr (the error line a failing command ends with). */
export const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
