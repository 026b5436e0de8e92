/**
 * The data dir's files under hostile conditions: state written atomically (a failed write leaves
 * the old file and no temp file), never recreating a running pipeline's removed data dir, damaged
 * files refused by name, storage faults told apart from the rest, and the `up.lock` that a
 * process mid-way through creating it, or several racing over a stale one, cannot double-grant.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { acquireDataDirLock } from '../../src/local/endpoints.js';
import {
  DataDirGoneError,
  guardDataDir,
  readJsonSync,
  storageFault,
  writeJsonAtomicSync,
} from '../../src/local/files.js';
import { tempDataDir } from '../helpers/local-pipeline.js';

/** Writes whose path starts with this fail with ENOSPC. */
const disk = vi.hoisted(() => ({ failUnder: undefined as string | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeFileSync: typeof real.writeFileSync = (file, ...rest) => {
    if (disk.failUnder !== undefined && String(file).startsWith(disk.failUnder)) {
      // A full disk: the file is created, then the write fails part-way.
      real.writeFileSync(file, 'partial');
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        path: file,
      });
    }
    return real.writeFileSync(file, ...rest);
  };
  return { ...real, default: { ...real, writeFileSync }, writeFileSync };
});

const dirs: string[] = [];
afterEach(() => {
  disk.failUnder = undefined;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const dir = (label: string): string => {
  const d = tempDataDir(label);
  dirs.push(d);
  return d;
};

describe('atomic state writes', () => {
  it('creates missing subdirectories, and a failed write keeps the old file and leaves no temp file', () => {
    const d = dir('atomic');
    const file = join(d, 'checkpoints', 'esm-x', 'shard.json');
    writeJsonAtomicSync(file, { sequenceNumber: '1' });
    disk.failUnder = join(d, 'checkpoints');
    expect(() => writeJsonAtomicSync(file, { sequenceNumber: '2' })).toThrow(/ENOSPC/);
    disk.failUnder = undefined;
    expect(readJsonSync(file)).toEqual({ sequenceNumber: '1' });
    expect(readdirSync(join(d, 'checkpoints', 'esm-x'))).toEqual(['shard.json']);
  });

  it("never recreates a running pipeline's data dir that was removed", () => {
    const d = dir('guarded');
    const unguard = guardDataDir(d);
    try {
      rmSync(d, { recursive: true });
      const write = () => writeJsonAtomicSync(join(d, 'checkpoints', 'firehose-x.json'), { shards: {} });
      expect(write).toThrow(DataDirGoneError);
      expect(write).toThrow(`the data directory ${d} was removed while the local pipeline was running`);
      expect(existsSync(d)).toBe(false);
    } finally {
      unguard();
    }
    // Not guarded (no pipeline running there): creating it is fine.
    writeJsonAtomicSync(join(d, 'status.json'), {});
    expect(existsSync(d)).toBe(true);
  });
});

describe('damaged state files', () => {
  it.each([
    ['empty', '', 'empty'],
    ['truncated', '{"shards": {"a": "1"', 'not JSON'],
    ['binary', '\u0000\u0001\u0002', 'not JSON'],
  ])('%s: a DATA error naming the file', (_what, text, reason) => {
    const file = join(dir('damaged'), 'state.json');
    writeFileSync(file, text);
    expect(() => readJsonSync(file)).toThrow(expect.objectContaining({ code: 'DATA' }));
    expect(() => readJsonSync(file)).toThrow(new RegExp(`^${file} is corrupt: ${reason}`));
  });

  it('a wrong shape is refused with what is wrong', () => {
    const file = join(dir('shape'), 'state.json');
    writeFileSync(file, '{"shards": 7}');
    const validate = (v: unknown) =>
      typeof (v as { shards?: unknown }).shards === 'object' ? v : '"shards" is not an object';
    expect(() => readJsonSync(file, { validate })).toThrow(`${file} is corrupt: "shards" is not an object`);
  });
});

describe('storage faults', () => {
  it('are told apart from errors a retry may fix, also when wrapped', () => {
    const full = Object.assign(new Error('x'), { code: 'ENOSPC', path: '/d/f' });
    expect(storageFault(full)).toEqual({ code: 'ENOSPC', what: 'no space left on the device', path: '/d/f' });
    expect(
      storageFault(new Error('wrapped', { cause: Object.assign(new Error('y'), { code: 'EROFS' }) })),
    ).toMatchObject({
      code: 'EROFS',
    });
    expect(storageFault(new DataDirGoneError('/d'))).toMatchObject({ code: 'EDATADIRGONE', path: '/d' });
    for (const code of ['ECONNREFUSED', 'ENOENT', 'EACCES']) {
      expect(storageFault(Object.assign(new Error('z'), { code }))).toBeUndefined();
    }
  });
});

describe('the data dir lock', () => {
  const DEAD = 2 ** 22 + 12345;

  it('a lock with no pid yet (its creator is mid-way) is waited for, not taken over', async () => {
    const d = dir('lock-fresh');
    const lock = join(d, 'up.lock');
    writeFileSync(lock, '');
    // Its creator (another process) writes its pid 300 ms later; acquiring blocks meanwhile. The
    // delay is the scenario (a creator caught mid-way), not a wait for something to happen.
    const holder = process.ppid;
    const creator = spawn(
      process.execPath,
      ['-e', `setTimeout(() => require('fs').writeFileSync(${JSON.stringify(lock)}, '${holder}'), 300)`],
      { stdio: 'ignore' },
    );
    await new Promise((r) => creator.once('spawn', r));
    expect(() => acquireDataDirLock(d)).toThrow(
      `a local pipeline is already running in ${d} (process ${holder})`,
    );
    await new Promise((r) => creator.once('exit', r));
    expect(readFileSync(lock, 'utf8')).toBe(String(holder));
  });

  it('an unreadable lock left long ago, or one of a dead process, is taken over', () => {
    for (const content of ['', 'garbage', String(DEAD)]) {
      const d = dir('lock-stale');
      const lock = join(d, 'up.lock');
      writeFileSync(lock, content);
      const old = new Date(Date.now() - 60_000);
      utimesSync(lock, old, old);
      const release = acquireDataDirLock(d);
      expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
      expect(readdirSync(d).sort()).toEqual(['up.lock']);
      release();
      expect(existsSync(lock)).toBe(false);
    }
  });

  it('a takeover left half-done by a process that died is cleaned up', () => {
    const d = dir('lock-token');
    const lock = join(d, 'up.lock');
    writeFileSync(lock, String(DEAD));
    const { ino } = statSync(lock);
    const token = `${lock}.${ino}.takeover`;
    writeFileSync(token, String(DEAD));
    const old = new Date(Date.now() - 60_000);
    utimesSync(token, old, old);
    const release = acquireDataDirLock(d);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    expect(existsSync(token)).toBe(false);
    release();
  });

  it('release() leaves a lock that is not ours alone', () => {
    const d = dir('lock-other');
    mkdirSync(d, { recursive: true });
    const release = acquireDataDirLock(d);
    // Replaced behind our back (the dir was taken over): not ours to remove.
    writeFileSync(join(d, 'up.lock'), String(process.ppid));
    release();
    expect(readFileSync(join(d, 'up.lock'), 'utf8')).toBe(String(process.ppid));
  });
});
