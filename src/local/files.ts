/**
 * The local pipeline's data directory: every file it keeps, in one place, and the atomic
 * write-rename every piece of state goes through (a crash leaves the old or the new file, never
 * half of one).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface LocalPaths {
  readonly dataDir: string;
  /** kinesalite's leveldb. */
  readonly kinesis: string;
  /** s3rver's object store. */
  readonly s3: string;
  readonly endpoints: string;
  /** Held (O_EXCL, pid inside) by the one process running the pipeline on this data dir. */
  readonly lock: string;
  readonly checkpoints: string;
  readonly failedBatches: string;
  readonly logs: string;
  readonly status: string;
  readonly schedule: string;
  /** stdout/stderr of the server child process. */
  readonly serverLog: string;
}

export function localPaths(dataDir: string): LocalPaths {
  return {
    dataDir,
    kinesis: join(dataDir, 'kinesis'),
    s3: join(dataDir, 's3'),
    endpoints: join(dataDir, 'endpoints.json'),
    lock: join(dataDir, 'up.lock'),
    checkpoints: join(dataDir, 'checkpoints'),
    failedBatches: join(dataDir, 'failed-batches.ndjson'),
    logs: join(dataDir, 'logs'),
    status: join(dataDir, 'status.json'),
    schedule: join(dataDir, 'schedule.json'),
    serverLog: join(dataDir, 'servers.log'),
  };
}

let seq = 0;
const tmpName = (file: string): string => `${file}.${process.pid}.${++seq}.tmp`;

/**
 * Synchronous on purpose: the pipeline's loops check their "stopped" flag and write in the same
 * tick, so a loop abandoned by a crash-stop can never write state after a new pipeline took over.
 */
export function writeJsonAtomicSync(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tmpName(file);
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = tmpName(file);
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}

/** The parsed file, or undefined when it does not exist. Corrupt JSON is an error naming the file. */
export function readJsonSync<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}
