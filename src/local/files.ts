/**
 * The local pipeline's data directory: every file it keeps, in one place, and the atomic
 * write-rename every piece of state goes through (a crash leaves the old or the new file, never
 * half of one).
 *
 * Two faults are named here rather than left to surface as raw errno messages: a data dir removed
 * while the pipeline runs (writers must not quietly recreate it: a half-recreated dir whose
 * checkpoints point into streams that no longer exist is worse than none), and the storage errors
 * no retry can fix (disk full, read-only, I/O error).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PaypipeError } from '../errors.js';

export interface LocalPaths {
  readonly dataDir: string;
  /** kinesalite's leveldb. */
  readonly kinesis: string;
  /** s3rver's object store. */
  readonly s3: string;
  readonly endpoints: string;
  /** Held (pid inside, created atomically) by the one process running the pipeline on this data dir. */
  readonly lock: string;
  readonly checkpoints: string;
  /** Firehose objects a stop could not deliver: `pending/<delivery stream>/<object name>.json`. */
  readonly pending: string;
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
    pending: join(dataDir, 'pending'),
    failedBatches: join(dataDir, 'failed-batches.ndjson'),
    logs: join(dataDir, 'logs'),
    status: join(dataDir, 'status.json'),
    schedule: join(dataDir, 'schedule.json'),
    serverLog: join(dataDir, 'servers.log'),
  };
}

/** errno codes of storage faults that waiting cannot fix: stop and say so instead of retrying. */
const STORAGE_FAULTS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EIO: 'I/O error',
};

/** The storage fault behind an error (also when wrapped as a cause), else undefined. */
export function storageFault(e: unknown): { code: string; what: string; path?: string } | undefined {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; depth++) {
    if (x instanceof DataDirGoneError) return { code: 'EDATADIRGONE', what: x.message, path: x.dataDir };
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FAULTS[code] !== undefined) {
      const path = (x as { path?: unknown }).path;
      return {
        code,
        what: STORAGE_FAULTS[code] as string,
        ...(typeof path === 'string' ? { path } : {}),
      };
    }
    x = (x as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The data dir of a running pipeline went away (removed, or replaced by another directory). */
export class DataDirGoneError extends PaypipeError {
  constructor(readonly dataDir: string) {
    super('IO', `the data directory ${dataDir} was removed while the local pipeline was running`, {
      hint: 'its streams, objects and checkpoints went with it; `paypipe up` starts afresh',
    });
  }
}

/**
 * Data dirs of running pipelines in this process. A writer that finds its directory missing may
 * create subdirectories, but never a guarded data dir itself.
 */
const guarded = new Set<string>();

/** Registers a running pipeline's data dir; returns the unregister function. */
export function guardDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  guarded.add(dir);
  return () => {
    guarded.delete(dir);
  };
}

function assertDataDirPresent(file: string): void {
  for (const dir of guarded) {
    if ((file === dir || file.startsWith(dir + sep)) && !existsSync(dir)) throw new DataDirGoneError(dir);
  }
}

let seq = 0;
const tmpName = (file: string): string => `${file}.${process.pid}.${++seq}.tmp`;

const serialize = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Synchronous on purpose: the pipeline's loops check their "stopped" flag and write in the same
 * tick, so a loop abandoned by a crash-stop can never write state after a new pipeline took over.
 * A failed write (disk full) leaves the old file and no temp file behind.
 */
export function writeJsonAtomicSync(file: string, value: unknown): void {
  writeFileAtomicSync(file, serialize(value));
}

function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tmpName(file);
  try {
    try {
      writeFileSync(tmp, data);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      assertDataDirPresent(file);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(tmp, data);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export interface ReadJsonOptions<T> {
  /** Checks the parsed value; throws (or returns a reason string) when its shape is wrong. */
  validate?: (value: unknown) => T | string;
  /** What to do about a damaged file (the default suits the pipeline's own state files). */
  hint?: string;
}

const DAMAGED_HINT =
  'paypipe writes this file atomically, so it was changed or damaged outside paypipe: restore it, ' +
  'or delete it to start that part over (a deleted checkpoint re-reads its stream from the start)';

function parse<T>(file: string, text: string, o: ReadJsonOptions<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const what = text.trim() === '' ? 'empty' : `not JSON (${(e as Error).message.split('\n')[0]})`;
    throw new PaypipeError('DATA', `${file} is corrupt: ${what}`, { hint: o.hint ?? DAMAGED_HINT });
  }
  if (o.validate === undefined) return value as T;
  let checked: T | string;
  try {
    checked = o.validate(value);
  } catch (e) {
    checked = (e as Error).message;
  }
  if (typeof checked === 'string') {
    throw new PaypipeError('DATA', `${file} is corrupt: ${checked}`, { hint: o.hint ?? DAMAGED_HINT });
  }
  return checked;
}

/** The parsed file, or undefined when it does not exist. A damaged file is a DATA error naming it. */
export function readJsonSync<T>(file: string, o: ReadJsonOptions<T> = {}): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parse(file, text, o);
}

export async function readJson<T>(file: string, o: ReadJsonOptions<T> = {}): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parse(file, text, o);
}
