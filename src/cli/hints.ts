/**
 * Every `paypipe …` command a hint suggests must work when pasted, so it must point where the user
 * was pointing: `paypipe results --local --data-dir /tmp/pp` that fails with "start it with
 * `paypipe up`" means `paypipe up --data-dir /tmp/pp`, and a hint to `paypipe deploy` after
 * `--env prod --region eu-west-1` means `paypipe deploy --env prod --region eu-west-1`.
 *
 * Code that writes a hint names the command plainly, in backticks; this module adds the target
 * flags the user gave to each backticked command that accepts them. The io layer applies it to
 * human output and the one error path (src/cli/main.ts) to error hints, so no feature has to
 * thread the flags through its messages.
 */
import type { Command } from 'commander';

/** Flags that say which pipeline a command works on; only these are carried into suggestions. */
const LOCAL_FLAGS = ['--local', '--data-dir'] as const;
const AWS_FLAGS = ['--env', '--project', '--region', '--profile', '--stack', '--data-dir'] as const;

export interface HintContext {
  /** Target flags given on the command line, as [flag, value] (value undefined for --local). */
  given: ReadonlyArray<readonly [string, string | undefined]>;
  /** The long flags each command accepts (undefined: no such command). */
  accepts(command: string): ReadonlySet<string> | undefined;
}

const attr = (flag: string): string => flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The target flags the user typed for `cmd` (not defaults), and what every sibling command accepts. */
export function hintContext(cmd: Command): HintContext {
  const root = cmd.parent ?? cmd;
  const given: Array<readonly [string, string | undefined]> = [];
  for (const flag of new Set<string>([...LOCAL_FLAGS, ...AWS_FLAGS])) {
    const name = attr(flag);
    const source = cmd.getOptionValueSource(name);
    if (source !== 'cli' && source !== 'env') continue;
    const value = cmd.getOptionValue(name) as unknown;
    if (flag === '--local') {
      if (value === true) given.push([flag, undefined]);
    } else if (typeof value === 'string') given.push([flag, value]);
  }
  const accepted = new Map<string, Set<string>>();
  for (const c of root.commands) {
    accepted.set(c.name(), new Set(c.options.map((o) => o.long).filter((l): l is string => l !== undefined)));
  }
  return { given, accepts: (name) => accepted.get(name) };
}

/** Quotes a value for a POSIX shell when it needs it. */
export const shellQuote = (v: string): string =>
  /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`;

/** The flags to add to one suggested command (`paypipe <name> <rest>`). */
function additions(name: string, rest: string, ctx: HintContext): string[] {
  const accepts = ctx.accepts(name);
  if (accepts === undefined) return [];
  const has = (flag: string): boolean => new RegExp(`(^|\\s)${flag}(=|\\s|$)`).test(rest);
  const local = ctx.given.some(([f]) => f === '--local');
  const out: string[] = [];
  const add = (flag: string, value: string | undefined): void => {
    if (!accepts.has(flag) || has(flag)) return;
    out.push(value === undefined ? flag : `${flag} ${shellQuote(value)}`);
  };
  if (local) {
    // A suggestion for AWS (deploy, outputs) stays an AWS one; up/demo take the data dir only.
    const suggestsLocal = has('--local') || accepts.has('--local') || !accepts.has('--env');
    if (!suggestsLocal) return [];
    add('--local', undefined);
    for (const [f, v] of ctx.given) if (f === '--data-dir') add(f, v);
    return out;
  }
  // An AWS context: a suggestion that is explicitly local is left alone.
  if (has('--local')) return [];
  for (const [f, v] of ctx.given) if ((AWS_FLAGS as readonly string[]).includes(f)) add(f, v);
  return out;
}

/** Index of the first unquoted ` |` or ` >` (where the paypipe command's own words end), else -1. */
function operatorAt(text: string): number {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if ((c === '|' || c === '>') && i > 0 && /\s/.test(text[i - 1] as string)) return i - 1;
  }
  return -1;
}

/** Adds the context's target flags to every backticked `paypipe <command> …` in `text`. */
export function withHintContext(text: string, ctx: HintContext | undefined): string {
  if (ctx === undefined || ctx.given.length === 0 || !text.includes('`paypipe ')) return text;
  return text.replace(/`paypipe ([a-z][a-z-]*)([^`]*)`/g, (whole, name: string, rest: string) => {
    const extra = additions(name, rest, ctx);
    if (extra.length === 0) return whole;
    // Before a pipe or redirect the flags still belong to paypipe.
    const cut = operatorAt(rest);
    const head = cut === -1 ? rest : rest.slice(0, cut);
    const tail = cut === -1 ? '' : rest.slice(cut);
    return `\`paypipe ${name}${head} ${extra.join(' ')}${tail}\``;
  });
}
