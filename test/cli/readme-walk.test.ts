/**
 * The README's local walk, verbatim: the `npx paypipe …` lines of the first code block under
 * "Running it" are run by a POSIX shell, in order, in an empty directory, against a private build
 * of the CLI (`npx paypipe` is the shell function below; everything else on the line, redirections
 * and comments included, is the shell's). `up` is terminal 1: it runs in the background until the
 * end; a `--follow` command runs until it has printed a line, then gets Ctrl-C. Every other line must
 * exit 0.
 *
 * Adversary: the README drifting from what works. It used to say `results --local --last 30m
 * --verify sent.json` right after `send`, which reported MISMATCH every time (the producer schedule
 * and the 60 s Firehose buffer were running). Also checked on the way: every `paypipe …` command the
 * walk's output suggests parses with the real program and keeps `--local`; `up` and `send` say that
 * new aggregates take up to the Firehose buffer interval to appear.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli } from '../helpers/build-cli.js';
import { baseEnv } from '../helpers/built-cli.js';
import { parseWithProgram, shellWords, suggestedCommands } from '../helpers/commands.js';
import { waitFor } from '../helpers/wait-for.js';

const root = new URL('../..', import.meta.url).pathname;

/** The walk: `npx paypipe` lines of the first ```sh block after "## Running it". */
function readmeLocalWalk(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Running it'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('npx paypipe '));
}

interface Run {
  line: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<number | null>;
}

let cli: BuiltCli;
let work: string;
const running: Run[] = [];

beforeAll(async () => {
  cli = await buildCli();
  work = mkdtempSync(join(tmpdir(), 'paypipe-readme-'));
}, 60_000);

afterAll(async () => {
  // Whatever is still running (a failed assertion): Ctrl-C, then make sure.
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGINT');
  await Promise.race([
    Promise.all(running.map((r) => r.exit)),
    new Promise((res) => setTimeout(res, 15_000)), // a deadline for the clean exit, then SIGKILL
  ]);
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  cli?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Runs one README line with sh, `npx paypipe` being the built bin (exec'd, so signals reach it). */
function start(line: string): Run {
  const script = `npx() { if [ "$1" = paypipe ]; then shift; exec "${process.execPath}" "${cli.bin}" "$@"; fi; exec npx "$@"; }\n${line}\n`;
  const child = spawn('sh', ['-c', script], { cwd: work, env: { ...baseEnv(), HOME: work } });
  const r: Run = {
    line,
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((res) => child.on('close', (code) => res(code))),
  };
  child.stdout?.on('data', (d) => {
    r.stdout += String(d);
  });
  child.stderr?.on('data', (d) => {
    r.stderr += String(d);
  });
  running.push(r);
  return r;
}

/** Resolves when `cond` holds (checked every 100 ms), or fails after `ms` saying what it waited for. */
const until = async (what: string, cond: () => boolean, ms: number): Promise<void> => {
  await waitFor(cond, what, ms, 100);
};

const outputOf = (r: Run): string => `$ ${r.line}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('README: the local walk, verbatim', () => {
  it('runs every line of it against a real local pipeline', { timeout: 240_000 }, async () => {
    const walk = readmeLocalWalk(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(walk.map((l) => shellWords(l.replace(/^npx /, ''))[1])).toEqual(
      expect.arrayContaining(['up', 'send', 'results']),
    );
    const done: Run[] = [];
    let up: Run | undefined;
    for (const line of walk) {
      const args = shellWords(line.replace(/^npx /, ''));
      if (args[1] === 'up') {
        up = start(line);
        const u = up;
        await until(
          `${line} to start`,
          () => u.stderr.includes('Local pipeline running') || u.child.exitCode !== null,
          90_000,
        );
        expect(u.child.exitCode, outputOf(u)).toBeNull();
        expect(existsSync(join(work, '.paypipe', 'endpoints.json'))).toBe(true);
        continue;
      }
      const r = start(line);
      if (args.includes('--follow') || args.includes('-f')) {
        await until(
          `${line} to print a line`,
          () => r.stdout.includes('\n') || r.child.exitCode !== null,
          60_000,
        );
        r.child.kill('SIGINT');
      }
      const code = await r.exit;
      expect(code, outputOf(r)).toBe(0);
      done.push(r);
    }
    expect(up, 'the walk starts the pipeline with `paypipe up`').toBeDefined();
    const u = up as Run;

    // What the walk is for: the aggregates match what was sent.
    const results = done.find((r) => r.line.includes('paypipe results'));
    expect(results?.stdout, results && outputOf(results)).toMatch(/verify against sent\.json: match/);
    // The SQL over the archive gives the totals the merge gave, and every event sent is accounted for.
    const rows = (text: string, re: RegExp): Map<string, string> =>
      new Map(
        text
          .split('\n')
          .map((l) => re.exec(l.trim()))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [
            m[1] as string,
            `${Number(m[2]?.replace(/,/g, ''))} ${Number(m[3]?.replace(/,/g, ''))}`,
          ]),
      );
    const merged = rows(results?.stdout ?? '', /^✓ ([A-Z]{3})\s+([\d,]+) payments\s+([\d,.]+)/);
    const query = done.find((r) => r.line.includes('paypipe query'));
    const bySql = rows(query?.stdout ?? '', /^([A-Z]{3})\s+\d+\s+([\d,]+)\s+([\d,.]+)\s/);
    expect(merged.size, results && outputOf(results)).toBeGreaterThanOrEqual(3);
    expect(bySql, query && outputOf(query)).toEqual(merged);
    const reconcile = done.find((r) => r.line.includes('paypipe reconcile'));
    expect(reconcile?.stdout, reconcile && outputOf(reconcile)).toMatch(
      /: 5000 = 5000 counted \+ 0 dead letters \+ 0 unaccounted/,
    );
    expect(reconcile?.stdout).toMatch(/every raw record is accounted for exactly once/);
    // Nobody is left to guess why the aggregates are not there yet.
    expect(u.stderr).toMatch(/New aggregates take up to the Firehose buffer interval \(\d+ s\) to appear/);
    const send = done.find((r) => r.line.includes('paypipe send'));
    expect(send?.stderr).toMatch(
      /new aggregates take up to the Firehose buffer interval \(\d+ s\) to appear/,
    );

    // Every command the walk's output suggests works when pasted, and stays local.
    const banner = u.stderr
      .split('\n')
      .map((l) => /^\s+(?:In another terminal:\s+)?(paypipe [a-z].*)$/.exec(l)?.[1])
      .filter((l): l is string => l !== undefined);
    expect(banner.length).toBeGreaterThanOrEqual(3);
    const suggested = [...banner, ...done.flatMap((r) => suggestedCommands(`${r.stdout}\n${r.stderr}`))];
    const bad: string[] = [];
    const program = await import('../../src/cli/main.js').then((m) => m.buildProgram());
    const takesLocal = new Set(
      program.commands.filter((c) => c.options.some((o) => o.long === '--local')).map((c) => c.name()),
    );
    for (const s of new Set(suggested)) {
      const p = await parseWithProgram(s);
      if (!p.ok) bad.push(`${s}: ${p.problem}`);
      const words = shellWords(s);
      if (takesLocal.has(words[1] as string) && !words.includes('--local')) bad.push(`${s}: lost --local`);
    }
    expect(bad.join('\n')).toBe('');

    // Terminal 1: Ctrl-C stops it cleanly.
    u.child.kill('SIGINT');
    expect(await u.exit, outputOf(u)).toBe(0);
  });
});
