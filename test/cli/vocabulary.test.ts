/**
 * One vocabulary across commands, checked on the program commander really builds (so a new command
 * or flag is covered without editing this file).
 *
 * Adversaries: a command whose time flag has its own parser (logs read `--since 2024-01-15T10:30`
 * as the machine's local time, results as UTC; peek's `--since` took durations only); `-n` meaning
 * `--count` in one command and `--limit` in another; a default printed as `86400000`; an old
 * spelling a user script relies on that stops working, or that is still documented.
 */
import type { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { type WhenFlag, whenMs } from '../../src/pipeline/time-range.js';
import { parseWithProgram } from '../helpers/commands.js';

const TIME_FLAGS = ['--since', '--until', '--last', '--from', '--to', '--at'];
const now = Date.now();

let commands: Command[];
const savedTz = process.env.TZ;
beforeAll(async () => {
  // Far from UTC: a zoneless time read as local time would be 5 hours off.
  process.env.TZ = 'America/New_York';
  commands = (await buildProgram()).commands as Command[];
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const timeOptions = (): Array<[string, Option]> =>
  commands.flatMap((c) =>
    c.options
      .filter((o) => o.long !== undefined && TIME_FLAGS.includes(o.long))
      .map((o) => [c.name(), o] as [string, Option]),
  );

/** What the option's parser makes of `text` (commander calls parseArg with the previous value). */
const parse = (o: Option, text: string): unknown =>
  (o as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg?.(text, undefined) ?? text;

const helpOf = (c: Command): string => {
  let text = '';
  c.configureOutput({ writeOut: (s) => (text += s) });
  c.outputHelp();
  return text;
};

describe('time flags: one set of names, one parser', () => {
  it('every time flag of every command reads durations and UTC times the same way', () => {
    const opts = timeOptions();
    // results, peek, logs, dead-letters at least.
    expect(new Set(opts.map(([c]) => c))).toEqual(
      new Set(['results', 'query', 'reconcile', 'peek', 'logs', 'dead-letters', 'status']),
    );
    for (const [cmd, o] of opts) {
      const where = `${cmd} ${o.long}`;
      const ago = parse(o, '2h') as WhenFlag;
      expect(typeof ago === 'object' && ago !== null, `${where} 2h → ${JSON.stringify(ago)}`).toBe(true);
      expect(whenMs(ago, now), where).toBe(now - 7_200_000);
      if (o.long === '--last') continue; // the old `--last` only ever took a duration
      const at = parse(o, '2024-01-15T10:30') as WhenFlag;
      expect(whenMs(at, now), `${where} 2024-01-15T10:30 is UTC`).toBe(Date.UTC(2024, 0, 15, 10, 30));
    }
  });

  it('documents --since (and --until where a range ends), never the old spellings', () => {
    for (const c of commands) {
      const help = helpOf(c);
      for (const old of ['--last', '--from', '--to', '--at', '--limit']) {
        expect(help, `${c.name()} --help documents ${old}`).not.toMatch(
          new RegExp(`^\\s+(-\\w, )?${old}(?![\\w-])`, 'm'),
        );
      }
    }
    const has = (name: string, flag: string): boolean =>
      (commands.find((c) => c.name() === name) as Command).options.some((o) => o.long === flag && !o.hidden);
    for (const name of ['results', 'peek', 'logs', 'dead-letters'])
      expect(has(name, '--since'), name).toBe(true);
    expect(has('results', '--until')).toBe(true);
  });

  it('the old spellings keep working where scripts may use them', async () => {
    for (const line of [
      'paypipe results --last 30m',
      'paypipe results --from 2024-01-15T10:00Z --to 2024-01-15T11:00Z',
      'paypipe peek --at 2024-01-15T10:30Z --limit 10',
      'paypipe peek --from trim-horizon',
      'paypipe peek --from latest --follow',
      'paypipe dead-letters --last 7d --limit 500',
      'paypipe send -n 5',
    ]) {
      const r = await parseWithProgram(line);
      expect(r.ok, `${line}: ${r.problem}`).toBe(true);
    }
  });
});

describe('-n, defaults', () => {
  it('-n is --count in every command that has it', () => {
    const withN = commands.flatMap((c) =>
      c.options.filter((o) => o.short === '-n').map((o) => [c.name(), o.long]),
    );
    expect(withN.length).toBeGreaterThanOrEqual(4);
    for (const [name, long] of withN) expect(long, name).toBe('--count');
  });

  it('defaults are shown as users write them', () => {
    for (const c of commands) {
      const help = helpOf(c);
      // Times and durations: `24h`, never milliseconds.
      for (const line of help.split('\n').filter((l) => /<(duration|when|seconds)>/.test(l))) {
        expect(line, `${c.name()} --help`).not.toMatch(/default: \d{4,}/);
      }
      expect(help, `${c.name()} --help`).not.toMatch(/default: "/);
      expect(help, `${c.name()} --help`).not.toMatch(/default: \{/);
    }
    expect(helpOf(commands.find((c) => c.name() === 'dead-letters') as Command)).toMatch(/\(default: 24h\)/);
    expect(helpOf(commands.find((c) => c.name() === 'logs') as Command)).toMatch(/\(default: 10m\)/);
  });
});
