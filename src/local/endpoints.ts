/**
 * How other paypipe processes find a running local pipeline: `<dataDir>/endpoints.json`, written
 * atomically by the process that runs it and removed on a clean stop. A file whose pid is dead is
 * stale (the runner was killed) and counts as "not running"; a new `up` takes it over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
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

/**
 * Claims the data dir for this process: an O_EXCL lock file holding our pid. A lock (or an
 * endpoints file) left by a dead process is taken over; a live one is LOCAL_ALREADY_RUNNING.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const paths = localPaths(dir);
  mkdirSync(dir, { recursive: true });
  const ep = readEndpointsFile(dir);
  if (ep !== undefined && ep.pid !== process.pid && isPidAlive(ep.pid)) throw alreadyRunning(dir, ep.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(paths.lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(paths.lock, 'utf8').trim() === String(process.pid))
            rmSync(paths.lock, { force: true });
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(paths.lock, 'utf8').trim());
      } catch {
        // Removed between open and read: try again.
      }
      if (isPidAlive(holder)) throw alreadyRunning(dir, holder);
      // Stale: its owner died without releasing. Remove and retry the exclusive create.
      rmSync(paths.lock, { force: true });
    }
  }
  throw new PaypipeError('IO', `could not lock ${paths.lock}`, { hint: 'remove the file and try again' });
}
