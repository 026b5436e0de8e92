/**
 * Every command's help offers only the times that command takes: each value its time flags' help
 * shows (the forms in the option's description, the values in its examples) and each form its
 * error message lists, run through the real command (parser and action, at the real clock, against
 * a data dir with no pipeline), is not refused as a bad value of that flag.
 *
 * Adversaries: a shared vocabulary text ("…, or now") printed by a command whose start cannot be
 * now (`query --since now` was offered by its error message, then refused as "not in the past");
 * a help that says "or now" where now selects nothing; an example dated so long ago that the
 * command's own age limit refuses it (`logs --since 2024-01-15T10:00Z`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';
import { isPaypipeError } from '../../src/errors.js';
import { shellWords } from '../helpers/commands.js';

const TIME_FLAGS = ['--since', '--until'];
/** The values of the time vocabulary as help texts write them. */
const VALUE =
  /(?<![\w-])(\d+[smhd](?:\d+[smhd])*|\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?Z)?|now|trim-horizon)(?![\w-])/g;

let commands: Command[];
let root: string;
let noPipeline: string;
beforeAll(async () => {
  commands = (await buildProgram()).commands as Command[];
  root = mkdtempSync(join(tmpdir(), 'paypipe-time-help-'));
  noPipeline = join(root, 'none');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const helpOf = (c: Command): string => {
  let text = '';
  c.configureOutput({ writeOut: (s) => (text += s) });
  c.outputHelp();
  return text;
};

const timeOptions = (c: Command): Option[] =>
  c.options.filter((o) => !o.hidden && o.long !== undefined && TIME_FLAGS.includes(o.long));

/** The message the option's parser gives for a value no command takes. */
const refusalOf = (o: Option): string => {
  try {
    (o as unknown as { parseArg: (v: string, prev: unknown) => unknown }).parseArg('not-a-time', undefined);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${o.long} took "not-a-time"`);
};

/**
 * A UTC time of the same shape as the one a help text shows, but recent: the form is what is
 * offered; how far back a command reads is its own limit (31 days for logs and dead-letters).
 */
const recentLike = (value: string): string => {
  const t = new Date(Date.now() - 2 * 3_600_000).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return /:\d{2}:\d{2}Z$/.test(value) ? t.replace(/\.\d{3}Z$/, 'Z') : t.replace(/:\d{2}\.\d{3}Z$/, 'Z');
};

/**
 * Runs `paypipe <words> --local --data-dir <none>` for real: undefined when no time flag's value
 * was refused (it may still fail later: there is no pipeline), else the usage error's message.
 */
async function refusedTime(words: string[]): Promise<string | undefined> {
  const argv = ['node', 'paypipe', ...words, '--local', '--data-dir', noPipeline];
  try {
    await main(argv);
    return undefined;
  } catch (e) {
    if (isPaypipeError(e) && e.code === 'USAGE' && /^--(since|until)\b/.test(e.message)) return e.message;
    return undefined;
  }
}

describe('time flags offer what they take', () => {
  it('the forms in each time flag’s help and error message are taken by that command', async () => {
    const offered: string[] = [];
    for (const c of commands) {
      for (const o of timeOptions(c)) {
        const texts = { help: o.description, 'error message': refusalOf(o) };
        for (const [where, text] of Object.entries(texts)) {
          for (const [value] of text.matchAll(VALUE)) {
            const given = /^\d{4}-/.test(value) ? recentLike(value) : value;
            const line = `${c.name()} ${o.long} ${given}`;
            offered.push(line);
            expect(
              await refusedTime([c.name(), o.long as string, given]),
              `${line} (from its ${where})`,
            ).toBe(undefined);
          }
        }
      }
    }
    // The commands with time flags, and now where it is offered.
    expect(offered).toContain('query --until now');
    expect(offered).toContain('peek --since now');
    expect(offered).toContain('logs --since now');
    expect(offered).toContain('peek --since trim-horizon');
  });

  it('a start that would select nothing is neither offered nor taken', async () => {
    for (const name of ['query', 'reconcile', 'results', 'status', 'dead-letters']) {
      const c = commands.find((x) => x.name() === name) as Command;
      const since = timeOptions(c).find((o) => o.long === '--since') as Option;
      expect(since.description, `${name} --since help`).not.toMatch(VALUE_NOW);
      expect(refusalOf(since), `${name} --since error message`).not.toMatch(VALUE_NOW);
      expect(await refusedTime([name, '--since', 'now']), `${name} --since now`).toMatch(
        /^--since must be .*, got "now"$/,
      );
    }
  });

  it('the examples in each command’s help run as shown (times included)', async () => {
    let checked = 0;
    for (const c of commands) {
      const examples = helpOf(c)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('$ paypipe ') && /--(since|until)\b/.test(l));
      for (const e of examples) {
        const words = shellWords(e.slice(2)).slice(1);
        checked++;
        expect(await refusedTime(words), e).toBe(undefined);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});

const VALUE_NOW = /(?<![\w-])now(?![\w-])/;
