/**
 * How other paypipe processes find a running local pipeline: `<dataDir>/endpoints.json`, written
 * atomically by the process that runs it and removed on a clean stop. A file whose pid is dead is
 * stale (the runner was killed) and counts as "not running"; a new `up` takes it over.
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClientTarget } from '../aws/clients.js';
import type { ConfigOverrides } from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
import { localPaths, readJsonSync, writeJsonAtomicSync } from './files.js';

export interface LocalEndpoints {
  /** The process running the pipeline (`paypipe up`, or a test). */
  pid: number;
  kinesisEndpoint: string;
  s3Endpoint: string;
  region: string;
  /** ISO time the pipeline started. */
  startedAt: string;
  /** The child process running kinesalite and s3rver (it exits when `pid` does). */
  serverPid?: number;
  /** What resolveConfig() was given, so every client names the same streams and buckets. */
  configOverrides: ConfigOverrides;
}

export const NOT_RUNNING_HINT = 'start it with `paypipe up` in another terminal';

/** True when a process with this pid exists (EPERM: it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readEndpointsFile(dataDir: string): LocalEndpoints | undefined {
  const file = localPaths(dataDir).endpoints;
  try {
    const ep = readJsonSync<LocalEndpoints>(file);
    if (ep === undefined) return undefined;
    if (
      typeof ep.pid !== 'number' ||
      typeof ep.kinesisEndpoint !== 'string' ||
      typeof ep.s3Endpoint !== 'string'
    ) {
      throw new Error('missing pid or endpoints');
    }
    return ep;
  } catch (e) {
    throw new PaypipeError('DATA', `${file} is not a valid endpoints file: ${(e as Error).message}`, {
      hint: 'delete it and run `paypipe up` again',
    });
  }
}

/** The running local pipeline's endpoints; throws LOCAL_NOT_RUNNING when none is running there. */
export async function readLocalEndpoints(dataDir: string): Promise<LocalEndpoints> {
  const dir = resolve(dataDir);
  const ep = readEndpointsFile(dir);
  if (ep === undefined || !isPidAlive(ep.pid)) {
    throw new PaypipeError(
      'LOCAL_NOT_RUNNING',
      ep === undefined
        ? `no local pipeline is running in ${dir}`
        : `the local pipeline in ${dir} is not running (process ${ep.pid} has exited)`,
      { hint: NOT_RUNNING_HINT },
    );
  }
  return ep;
}

/** The client target for a running local pipeline (for src/aws/clients.ts). */
/** The client target for the local servers (from endpoints.json, or straight from startLocalServers). */
export const localTarget = (
  ep: Pick<LocalEndpoints, 'region' | 'kinesisEndpoint' | 's3Endpoint'>,
): Extract<ClientTarget, { kind: 'local' }> => ({
  kind: 'local',
  region: ep.region,
  kinesisEndpoint: ep.kinesisEndpoint,
  s3Endpoint: ep.s3Endpoint,
});

export function writeLocalEndpoints(dataDir: string, ep: LocalEndpoints): void {
  writeJsonAtomicSync(localPaths(dataDir).endpoints, ep);
}

/** Removes endpoints.json if it is ours (a newer runner may have taken the data dir over). */
export function removeLocalEndpoints(dataDir: string, pid = process.pid): void {
  const ep = readJsonSync<Partial<LocalEndpoints>>(localPaths(dataDir).endpoints);
  if (ep?.pid === pid) rmSync(localPaths(dataDir).endpoints, { force: true });
}

const alreadyRunning = (dir: string, pid: number): PaypipeError =>
  new PaypipeError(
    'LOCAL_ALREADY_RUNNING',
    `a local pipeline is already running in ${dir} (process ${pid})`,
    {
      hint: 'use it (commands with --local), stop it with Ctrl-C, or pick another --data-dir',
    },
  );

/** Throws LOCAL_ALREADY_RUNNING when another live process runs a pipeline in dataDir. */
export function assertNotRunning(dataDir: string): void {
  const dir = resolve(dataDir);
  const ep = readEndpointsFile(dir);
  if (ep !== undefined && ep.pid !== process.pid && isPidAlive(ep.pid)) throw alreadyRunning(dir, ep.pid);
  let holder = Number.NaN;
  try {
    holder = Number(readFileSync(localPaths(dir).lock, 'utf8').trim());
  } catch {
    return;
  }
  if (holder !== process.pid && isPidAlive(holder)) throw alreadyRunning(dir, holder);
}

const LOCK_ATTEMPTS = 50;
/** A lock file with no pid in it is being written by nobody (ours are created whole): stale after this. */
const UNREADABLE_LOCK_STALE_MS = 2000;
/** A takeover token older than this belongs to a process that died mid-takeover. */
const TOKEN_STALE_MS = 10_000;

const pause = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

let lockSeq = 0;

/** A file holding `<pid>`, linked into place: the name appears with its content or not at all. */
function linkNew(target: string, pid: number): boolean {
  const tmp = `${target}.${pid}.${++lockSeq}.tmp`;
  writeFileSync(tmp, String(pid));
  try {
    linkSync(tmp, target);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readLock(file: string): { pid: number | undefined; ino: number; ageMs: number } | undefined {
  try {
    const st = statSync(file);
    const text = readFileSync(file, 'utf8').trim();
    const pid = /^\d+$/.test(text) ? Number(text) : undefined;
    return { pid, ino: st.ino, ageMs: Date.now() - st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Claims the data dir for this process: `up.lock` holding our pid, created atomically (a racing
 * process never sees it empty). A live holder is LOCAL_ALREADY_RUNNING. A lock left by a dead
 * process is taken over — by exactly one of several racing processes: the taker first claims a
 * token named after that lock file's inode, checks the lock is still that file, then renames its
 * own lock over it; a racer that finds the token taken, or the lock replaced, starts over and
 * meets the live winner.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const paths = localPaths(dir);
  mkdirSync(dir, { recursive: true });
  const ep = readEndpointsFile(dir);
  if (ep !== undefined && ep.pid !== process.pid && isPidAlive(ep.pid)) throw alreadyRunning(dir, ep.pid);
  const ours = (): (() => void) => {
    const mine = statSync(paths.lock).ino;
    return () => {
      const now = readLock(paths.lock);
      // Only the file we created: a successor may have taken a lock we lost (e.g. the dir was replaced).
      if (now?.pid === process.pid && now.ino === mine) rmSync(paths.lock, { force: true });
    };
  };
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    if (linkNew(paths.lock, process.pid)) return ours();
    const held = readLock(paths.lock);
    if (held === undefined) continue; // released meanwhile: try again
    if (held.pid !== undefined && isPidAlive(held.pid)) throw alreadyRunning(dir, held.pid);
    if (held.pid === undefined && held.ageMs < UNREADABLE_LOCK_STALE_MS) {
      pause(50);
      continue;
    }
    // Stale. One taker per stale lock file: the token is named after its inode.
    const token = `${paths.lock}.${held.ino}.takeover`;
    if (!linkNew(token, process.pid)) {
      const t = readLock(token);
      if (t !== undefined && t.ageMs > TOKEN_STALE_MS) rmSync(token, { force: true });
      pause(50);
      continue;
    }
    try {
      if (readLock(paths.lock)?.ino !== held.ino) continue; // someone replaced it first
      const tmp = `${paths.lock}.${process.pid}.${++lockSeq}.tmp`;
      writeFileSync(tmp, String(process.pid));
      renameSync(tmp, paths.lock);
      return ours();
    } finally {
      rmSync(token, { force: true });
    }
  }
  throw new PaypipeError('IO', `could not lock ${paths.lock}`, {
    hint: 'another `paypipe up` may be starting there; if none is, remove the file and try again',
  });
}
