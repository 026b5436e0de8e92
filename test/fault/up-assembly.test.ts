/**
 * `--assembly <dir>` of `paypipe demo` and `paypipe up` is checked while the flags are parsed: a
 * path that is not a cloud assembly is one line and exit 2, before anything starts — no child
 * process (the API servers are one), no data directory, nothing in the temp directory.
 *
 * Adversary: the old order, where demo made its temp data dir and both printed "Starting the
 * local pipeline…" before the assembly was looked at, so the one error came after a progress line
 * (and, had the check been any later, after the servers had started).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preload, processesUsing, spawnCli, upSuite } from '../helpers/up-process.js';

const suite = upSuite();
const { dataDir } = suite;

/** Runs `paypipe <args>` with its own temp directory and a log of every child process it starts. */
async function runIsolated(label: string, args: (scratch: string) => string[]) {
  const scratch = dataDir(label);
  const tmp = join(scratch, 'tmp');
  mkdirSync(tmp);
  const spawnLog = join(scratch, 'spawned.log');
  writeFileSync(spawnLog, '');
  const run = spawnCli(suite.cli, args(scratch), {
    preload: [preload('spawn-log.mjs')],
    env: { TMPDIR: tmp, PAYPIPE_TEST_SPAWN_LOG: spawnLog },
  });
  const exit = await run.exited;
  return {
    scratch,
    exit,
    stderr: run.stderr(),
    stdout: run.stdout(),
    spawned: readFileSync(spawnLog, 'utf8'),
    tmpEntries: readdirSync(tmp),
  };
}

const NOT_AN_ASSEMBLY = (dir: string, why: string): string =>
  `paypipe: --assembly ${dir} is not a cloud assembly (it ${why}) (pass the directory \`paypipe synth --out <dir>\` wrote (default cdk.out), or leave --assembly out)\n`;

describe('--assembly that is not a cloud assembly', () => {
  it.each([
    ['does not exist', (s: string) => join(s, 'no-such-assembly')],
    ['has no manifest.json', (s: string) => s],
    ['is not a directory', (s: string) => join(s, 'spawned.log')],
  ])('demo: %s — one line, exit 2, nothing started or written', async (why, assemblyIn) => {
    let assembly = '';
    const r = await runIsolated('demo-assembly', (s) => {
      assembly = assemblyIn(s);
      return ['demo', '--assembly', assembly];
    });
    expect(r.exit.code).toBe(2);
    expect(r.stderr).toBe(NOT_AN_ASSEMBLY(assembly, why));
    expect(r.stdout).toBe('');
    expect(r.spawned).toBe('');
    // demo's data dir is a temp dir: none was made.
    expect(r.tmpEntries).toEqual([]);
    expect(processesUsing(r.scratch)).toEqual([]);
  });

  it('up: one line, exit 2, no server started, the data dir not created', async () => {
    let d = '';
    let assembly = '';
    const r = await runIsolated('up-assembly', (s) => {
      d = join(s, 'data');
      assembly = join(s, 'no-such-assembly');
      return ['up', '--no-schedule', '--data-dir', d, '--assembly', assembly];
    });
    expect(r.exit.code).toBe(2);
    expect(r.stderr).toBe(NOT_AN_ASSEMBLY(assembly, 'does not exist'));
    expect(r.spawned).toBe('');
    expect(existsSync(d)).toBe(false);
    expect(r.tmpEntries).toEqual([]);
    expect(processesUsing(r.scratch)).toEqual([]);
  });
});
