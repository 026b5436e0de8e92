/**
 * Every hint printed is a command that works when pasted.
 *
 * Adversary: a help text or hint that names a command or option that does not exist (`results
 * --help` said `paypipe schedule disable`, which exits 2), or one that drops where the user was
 * pointing (`--local --data-dir /tmp/pp`, `--env prod`). Every `paypipe …` command suggested in the
 * help of every command, in the source's hint strings, in the README and in docs/ is parsed with
 * the real commander program; unknown command, unknown option or a rejected value fails the test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HintContext, hintContext, withHintContext } from '../../src/cli/hints.js';
import { buildProgram } from '../../src/cli/main.js';
import { parseWithProgram, shellWords, suggestedCommands } from '../helpers/commands.js';

const root = new URL('../..', import.meta.url).pathname;

/** The full help of the program and of every command, as `--help` prints it (after-texts included). */
async function helpTexts(): Promise<Map<string, string>> {
  const program = await buildProgram();
  const out = new Map<string, string>();
  for (const c of [program, ...(program.commands as Command[])]) {
    let text = '';
    c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    c.outputHelp();
    out.set(c === program ? 'paypipe' : `paypipe ${c.name()}`, text);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/**
 * Backticked `paypipe …` in the source's strings (escaped inside template literals), static ones
 * only: `${…}` spans are built at run time (the runtime suites parse what they print), and comments
 * are not output.
 */
function sourceSuggestions(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(\*|\/\*|\/\/)/.test(line)) continue;
    for (const m of line.matchAll(/\\?`paypipe( [^`\\]*)\\?`/g)) {
      const rest = m[1] ?? '';
      // A regular expression that matches such spans is not one.
      if (!rest.includes('${') && !rest.includes('([')) out.push(`paypipe${rest}`);
    }
  }
  return out;
}

async function failures(where: string, commands: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const c of new Set(commands)) {
    const r = await parseWithProgram(c);
    if (!r.ok) bad.push(`${where}: \`${c}\` → ${r.problem}`);
  }
  return bad;
}

describe('suggested commands parse with the real program', () => {
  it('the splitter and finder behave like a shell reader', () => {
    expect(shellWords(`paypipe logs --filter '{ $.rejected > 0 }' --since 2h | jq`)).toEqual([
      'paypipe',
      'logs',
      '--filter',
      '{ $.rejected > 0 }',
      '--since',
      '2h',
    ]);
    expect(
      suggestedCommands(
        '  $ paypipe send --json > sent.json && paypipe results --verify sent.json\nrun `paypipe up` now',
      ),
    ).toEqual(['paypipe up', 'paypipe send --json > sent.json', 'paypipe results --verify sent.json']);
  });

  it('catches a broken suggestion (the old `paypipe schedule disable`)', async () => {
    expect((await parseWithProgram('paypipe schedule disable')).ok).toBe(false);
    expect((await parseWithProgram('paypipe resutls')).ok).toBe(false);
    expect((await parseWithProgram('paypipe results --lastt 1h')).ok).toBe(false);
    expect((await parseWithProgram('paypipe results --since yesterday')).ok).toBe(false);
    expect((await parseWithProgram('paypipe schedule --disable')).ok).toBe(true);
  });

  it('every command in every --help text', async () => {
    const bad: string[] = [];
    let n = 0;
    const names = new Set((await buildProgram()).commands.map((c) => c.name()));
    for (const [where, text] of await helpTexts()) {
      const found = suggestedCommands(text);
      n += found.length;
      bad.push(...(await failures(`${where} --help`, found)));
      // Prose names commands in backticks (or as `$ paypipe …` example lines), so none escapes this check.
      for (const line of text.split('\n')) {
        const prose = line.replace(/`[^`]*`/g, '').replace(/^\s*\$ .*/, '');
        const m = /\bpaypipe ([a-z][a-z-]*)/.exec(prose);
        if (m !== null && names.has(m[1] as string) && !/^Usage: /.test(line.trim())) {
          bad.push(`${where} --help: unquoted command in "${line.trim()}"`);
        }
      }
    }
    expect(n).toBeGreaterThan(60);
    expect(bad.join('\n')).toBe('');
  });

  it('every static hint in src/', async () => {
    const bad: string[] = [];
    let n = 0;
    for (const file of sourceFiles(join(root, 'src'))) {
      const found = sourceSuggestions(readFileSync(file, 'utf8'));
      n += found.length;
      bad.push(...(await failures(file.slice(root.length), found)));
    }
    expect(n).toBeGreaterThan(40);
    expect(bad.join('\n')).toBe('');
  });

  it('every command in README.md and docs/', async () => {
    const bad: string[] = [];
    const files = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => join('docs', f))];
    let n = 0;
    for (const f of files.filter((x) => x.endsWith('.md'))) {
      const found = suggestedCommands(readFileSync(join(root, f), 'utf8'), { markdown: true });
      n += found.length;
      bad.push(...(await failures(f, found)));
    }
    expect(n).toBeGreaterThan(30);
    expect(bad.join('\n')).toBe('');
  });
});

const ctx = (given: Array<[string, string | undefined]>, accepts: HintContext['accepts']): HintContext => ({
  given,
  accepts,
});

describe('hints keep the target flags of the invocation', () => {
  it('adds what each suggested command accepts, and only that', async () => {
    const program = await buildProgram();
    const results = program.commands.find((c) => c.name() === 'results') as Command;
    results.action(() => {});
    results.exitOverride();
    await program.parseAsync(['node', 'paypipe', 'results', '--local', '--data-dir', '/tmp/my pp']);
    const local = hintContext(results);
    expect(local.given).toEqual([
      ['--local', undefined],
      ['--data-dir', '/tmp/my pp'],
    ]);
    expect(withHintContext('start it with `paypipe up` in another terminal', local)).toBe(
      "start it with `paypipe up --data-dir '/tmp/my pp'` in another terminal",
    );
    expect(withHintContext('run `paypipe results --verify s.json | head`', local)).toBe(
      "run `paypipe results --verify s.json --local --data-dir '/tmp/my pp' | head`",
    );
    // An AWS command stays an AWS command; a command with no target flags is left alone.
    expect(withHintContext('`paypipe deploy` then `paypipe demo`', local)).toBe(
      '`paypipe deploy` then `paypipe demo`',
    );

    const aws = ctx(
      [
        ['--env', 'prod'],
        ['--region', 'eu-west-1'],
      ],
      local.accepts,
    );
    expect(withHintContext('run `paypipe deploy` first', aws)).toBe(
      'run `paypipe deploy --env prod --region eu-west-1` first',
    );
    expect(withHintContext('run `paypipe deploy --env prod` first', aws)).toBe(
      'run `paypipe deploy --env prod --region eu-west-1` first',
    );
    // Explicitly local suggestions, and commands without these flags, are not touched.
    expect(withHintContext('try `paypipe doctor --local` or `paypipe up`', aws)).toBe(
      'try `paypipe doctor --local` or `paypipe up`',
    );
  });

  it('defaults are not "given": nothing is added for a plain invocation', async () => {
    const program = await buildProgram();
    const results = program.commands.find((c) => c.name() === 'results') as Command;
    results.action(() => {});
    await program.parseAsync(['node', 'paypipe', 'results']);
    expect(hintContext(results).given).toEqual([]);
    expect(withHintContext('`paypipe up`', hintContext(results))).toBe('`paypipe up`');
  });

  it('with any target flags, every suggestion from the help texts still parses', async () => {
    const program = await buildProgram();
    const accepts = hintContext(program.commands[0] as Command).accepts;
    const suggestions = [...new Set([...(await helpTexts()).values()].flatMap((t) => suggestedCommands(t)))];
    const value = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
    const localCtx = fc
      .record({ dir: fc.option(fc.constantFrom('/tmp/pp', '/tmp/a b', "it's")) })
      .map(
        ({ dir }): HintContext =>
          ctx(
            [
              ['--local', undefined],
              ...(dir === null ? [] : ([['--data-dir', dir]] as Array<[string, string]>)),
            ],
            accepts,
          ),
      );
    const awsCtx = fc
      .record({
        env: fc.option(value),
        region: fc.option(fc.constantFrom('eu-west-1', 'us-east-1')),
        profile: fc.option(value),
      })
      .map(({ env, region, profile }): HintContext => {
        const given: Array<[string, string]> = [];
        if (env !== null) given.push(['--env', env]);
        if (region !== null) given.push(['--region', region]);
        if (profile !== null) given.push(['--profile', profile]);
        return ctx(given, accepts);
      });
    await fc.assert(
      fc.asyncProperty(fc.oneof(localCtx, awsCtx), fc.constantFrom(...suggestions), async (c, s) => {
        const pasted = withHintContext(`\`${s}\``, c).slice(1, -1);
        const r = await parseWithProgram(pasted);
        expect(r.ok, `${pasted}: ${r.problem}`).toBe(true);
        // What was there stays there.
        for (const w of shellWords(s)) expect(shellWords(pasted)).toContain(w);
      }),
      { numRuns: 150 },
    );
  });
});
