/**
 * Suggested `paypipe …` commands, as they appear in help texts, hints, the README and the docs:
 * finding them in text, splitting them like a POSIX shell would, and parsing them with the real
 * commander program (every action replaced by a no-op, so nothing runs). A command that names an
 * unknown subcommand or option, or a value its flag rejects, does not work when pasted.
 */
import { type Command, CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/main.js';

/**
 * Words of one shell command line, stopping at an unquoted `|`, `;`, `&&`, `#` or a redirect
 * (`>`/`<` followed by a space or another `>`). `<file>` is a word: documentation's placeholder.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
      continue;
    }
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
      continue;
    }
    if ('|;&#'.includes(c)) break;
    if ((c === '>' || c === '<') && !has && /^([\s>]|$)/.test(line[i + 1] ?? '')) break;
    if (/\s/.test(c)) {
      if (has) words.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
    has = true;
  }
  if (has) words.push(cur);
  return words;
}

/** A synopsis as documentation writes it → the commands it stands for. */
function expandSynopsis(command: string): string[] {
  // `paypipe synth / diff / deploy`: one command each.
  if (/^paypipe [a-z-]+( \/ [a-z-]+)+$/.test(command)) {
    return command
      .slice('paypipe '.length)
      .split(' / ')
      .map((c) => `paypipe ${c}`);
  }
  // `[--probe]`, `[producer|aggregator|all]`: the optional parts, given (the first alternative).
  return [
    command
      .replace(/\[([^\]]*)\]/g, (_, inner: string) => inner.split('|')[0] ?? '')
      .replace(/\s+/g, ' ')
      .trim(),
  ];
}

/**
 * Every `paypipe …` command in a text: backticked spans, and each `paypipe` invocation in example
 * lines (`$ paypipe …`; in Markdown, any `paypipe`/`npx paypipe` line of a fenced code block),
 * including the ones after `&&`. Markdown's `\|` inside tables is a plain `|`.
 */
export function suggestedCommands(text: string, o: { markdown?: boolean } = {}): string[] {
  const out: string[] = [];
  const t = o.markdown === true ? text.replaceAll('\\|', '|') : text;
  for (const m of t.matchAll(/`(?:npx )?paypipe(?: ([^`]*))?`/g)) {
    // A bare `paypipe` names the program, it is not a suggestion to run it.
    if (m[1] !== undefined && m[1].trim() !== '') out.push(...expandSynopsis(`paypipe ${m[1].trim()}`));
  }
  let fenced = false;
  for (const line of t.split('\n')) {
    const l = line.trim();
    if (l.startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    const example =
      /^\$ (npx )?paypipe( |$)/.test(l) || (o.markdown === true && fenced && /^(npx )?paypipe( |$)/.test(l));
    if (!example) continue;
    for (const part of l.replace(/^\$ /, '').split(/&&|;/)) {
      const p = part.trim().replace(/^npx /, '');
      if (p.startsWith('paypipe')) out.push(p);
    }
  }
  return out;
}

export interface ParseOutcome {
  ok: boolean;
  problem?: string;
}

/** Parses `paypipe <args>` with the real program, nothing run. */
export async function parseWithProgram(commandLine: string): Promise<ParseOutcome> {
  const words = shellWords(commandLine);
  if (words[0] !== 'paypipe') return { ok: false, problem: 'does not start with paypipe' };
  const program = await buildProgram();
  const silence = (c: Command): void => {
    c.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
    c.exitOverride();
  };
  silence(program);
  for (const c of program.commands as Command[]) {
    silence(c);
    c.action(() => {});
  }
  try {
    await program.parseAsync(['node', ...words]);
    return { ok: true };
  } catch (e) {
    if (e instanceof CommanderError && (e.exitCode === 0 || e.code === 'commander.helpDisplayed')) {
      return { ok: true };
    }
    // A bare `paypipe` asks for a command: as a suggestion it is incomplete.
    return { ok: false, problem: (e as Error).message.split('\n')[0] };
  }
}
