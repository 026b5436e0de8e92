/**
 * Builds the commander program. Command modules under ./commands are light (flag definitions
 * only) and import their heavy implementation lazily inside the action, so `paypipe --help`
 * loads neither the AWS SDK nor aws-cdk-lib.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { type Argument, Command, CommanderError, Help, type Option } from 'commander';
import { isPaypipeError, PaypipeError } from '../errors.js';
import { ConfigError } from '../pipeline/config.js';
import { type HintContext, hintContext, withHintContext } from './hints.js';
import { register as demo } from './local/demo-command.js';
import { register as up } from './local/up-command.js';
import { register as send } from './send/command.js';
import { register as results } from './results/command.js';
import { register as peek } from './peek/command.js';
import { register as deadLetters } from './dead-letters/command.js';
import { register as query } from './query/command.js';
import { register as reconcile } from './reconcile/command.js';
import { register as logs } from './logs/command.js';
import { register as doctor } from './doctor/command.js';
import { register as schedule } from './schedule/command.js';
import { register as redrive } from './redrive/command.js';
import { register as scale } from './scale/command.js';
import { register as status } from './status/command.js';
import { register as config } from './config/command.js';
import { register as synth } from './stack/synth-command.js';
import { register as diff } from './stack/diff-command.js';
import { register as deploy } from './stack/deploy-command.js';
import { register as destroy } from './stack/destroy-command.js';
import { register as outputs } from './stack/outputs-command.js';
import { register as invoke } from './invoke/command.js';

type Register = (program: Command) => void;

// Command modules are light (flags, help text); each loads its implementation lazily in its action.
// Listed in the order --help shows them.
const commandModules: Register[] = [
  demo,
  up,
  send,
  results,
  query,
  reconcile,
  peek,
  deadLetters,
  redrive,
  scale,
  logs,
  invoke,
  doctor,
  status,
  schedule,
  config,
  synth,
  diff,
  deploy,
  destroy,
  outputs,
];

const version = (): string => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
};

const unquoteDefault = (text: string): string =>
  text.replace(/\(default: "((?:[^"\\]|\\.)*)"\)/, '(default: $1)');

export async function buildProgram(): Promise<Command> {
  const program = new Command('paypipe')
    .description(
      'Run and operate a real-time payment pipeline: Kinesis → Lambda (1-minute windows) → Firehose → S3.\n' +
        'Works against AWS (default) or an embedded local pipeline (`paypipe up`, `--local`).',
    )
    .version(version(), '-V, --version', 'print the paypipe version')
    .option('--json', 'machine-readable output on stdout (progress stays on stderr)')
    .option('--debug', 'show stack traces and SDK details on errors')
    .option('--config <file>', 'configuration file (default: paypipe.config.json in this directory)')
    .showSuggestionAfterError(true)
    // Defaults as users type them: `(default: .paypipe)`, not commander's JSON `(default: ".paypipe")`.
    .configureHelp({
      optionDescription(option: Option): string {
        return unquoteDefault(Help.prototype.optionDescription.call(this, option));
      },
      argumentDescription(argument: Argument): string {
        return unquoteDefault(Help.prototype.argumentDescription.call(this, argument));
      },
    })
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors are re-rendered by reportError as one line.
      outputError: () => {},
    })
    .addHelpText(
      'after',
      `
Times everywhere: --since/--until take a duration ago (30s, 10m, 2h, 1d) or a UTC time
(2024-01-15T10:30Z); -n/--count is how many records; --local/--data-dir pick the local pipeline,
--env/--region/--profile the deployed one.

Examples:
  $ paypipe demo                          # the whole pipeline on this machine, no AWS account
  $ paypipe up                            # keep the local pipeline running (Ctrl-C stops it)
  $ paypipe send --count 500 --local      # a burst of events into the local pipeline
  $ paypipe results --since 30m --local   # merged per-minute aggregates
  $ paypipe deploy --env dev --bootstrap  # the bundled CDK stack on AWS (--bootstrap: first deploy)`,
    );
  for (const register of commandModules) register(program);
  program.hook('preAction', (_program, action) => {
    // --config is for the whole invocation: every command reads its configuration through
    // src/cli/config/load.ts, which honours PAYPIPE_CONFIG (so child processes see it too).
    const file = (action.optsWithGlobals() as { config?: string }).config;
    if (file !== undefined) process.env.PAYPIPE_CONFIG = file;
    // A flag's default is not a flag the user gave: leave the setting to the configuration file.
    if (action.getOptionValueSource('project') === 'default') {
      action.setOptionValueWithSource('project', undefined, 'default');
    }
  });
  // Subcommands inherit exitOverride and the silent error output.
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
  }
  return program;
}

/** `(Did you mean results?)` / `(Did you mean one of a, b?)`, as commander appends it to a message. */
const SUGGESTION = /\n?\(Did you mean (?:one of )?([^?]+)\?\)\s*$/;

/** A commander usage error → one PaypipeError: what was wrong, the nearest spelling, where help is. */
function usageFrom(err: CommanderError, program: Command, argv: readonly string[]): PaypipeError {
  const names = new Set(program.commands.map((c) => c.name()));
  const sub = argv.slice(2).find((a) => names.has(a));
  const help = `\`paypipe ${sub === undefined ? '' : `${sub} `}--help\``;
  const text = err.message.replace(/^error: /, '');
  const m = SUGGESTION.exec(text);
  const message = (m === null ? text : text.slice(0, m.index)).split('\n')[0] ?? text;
  if (m === null) return new PaypipeError('USAGE', message, { hint: `see ${help}` });
  const options = (m[1] ?? '').split(',').map((x) => x.trim());
  const asCommands = err.code === 'commander.unknownCommand';
  const alternatives = options
    .map((o) => (asCommands ? `\`paypipe ${o}\`` : `${o}`))
    .join(asCommands ? ' or ' : ', ');
  return new PaypipeError('USAGE', message, {
    hint: `did you mean ${alternatives}? see ${help}`,
  });
}

/**
 * Parses argv and runs the command. Commands return normally or throw; a bare `paypipe` prints the
 * help on stderr and is a usage error (exit 2), as git and the aws CLI do.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const program = await buildProgram();
  // The command that ran: its target flags go into the `paypipe …` commands an error hint suggests.
  let hints: HintContext | undefined;
  program.hook('preAction', (_root, action) => {
    hints = hintContext(action);
  });
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride too; they are successes.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
        return;
      }
      // commander.help with a non-zero code: no command given, the help is already on stderr.
      if (err.code === 'commander.help') {
        throw new PaypipeError('USAGE', 'no command given', { hint: 'pick one of the commands above' });
      }
      throw usageFrom(err, program, argv);
    }
    if (isPaypipeError(err) && hints !== undefined && err.hint !== undefined) {
      const hint = withHintContext(err.hint, hints);
      if (hint !== err.hint) {
        throw new PaypipeError(err.code, err.message, {
          hint,
          cause: err.cause ?? err,
          ...(err.details === undefined ? {} : { details: err.details }),
        });
      }
    }
    throw err;
  }
}

const hasFlag = (argv: readonly string[], flag: string): boolean => argv.includes(flag);

/** Renders any error as one line on stderr (or a JSON document under --json); returns the exit code. */
export function reportError(err: unknown, argv: readonly string[], stderr = process.stderr): number {
  const debug = hasFlag(argv, '--debug');
  const json = hasFlag(argv, '--json');
  let e: PaypipeError;
  const net = networkCode(err);
  if (isPaypipeError(err)) {
    e = err;
    // A network failure is not a credentials problem, whatever the layer that caught it guessed.
    if (net !== undefined && e.code !== 'USAGE' && /credential|aws configure|sso login/i.test(e.hint ?? '')) {
      e = new PaypipeError(e.code, e.message, {
        hint: NETWORK_HINT,
        cause: e.cause ?? e,
        ...(e.details === undefined ? {} : { details: e.details }),
      });
    }
  } else if (err instanceof ConfigError) e = new PaypipeError('USAGE', err.message);
  else if (net !== undefined) {
    // An endpoint that cannot be reached is the environment, not a paypipe bug: say which and why.
    const n = err as { code?: string; address?: string; port?: number; hostname?: string };
    const where =
      n.address !== undefined ? `${n.address}${n.port === undefined ? '' : `:${n.port}`}` : n.hostname;
    e = new PaypipeError('AWS', `network error: ${net}${where === undefined ? '' : ` reaching ${where}`}`, {
      hint: NETWORK_HINT,
      cause: err,
    });
  } else {
    e = new PaypipeError('INTERNAL', `unexpected error: ${firstLine(messageOf(err))}`, {
      hint: 'run again with --debug for details, and report it if it persists',
      cause: err,
    });
  }
  if (json) {
    stderr.write(
      `${JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint, ...(e.details ?? {}) } })}\n`,
    );
  } else {
    stderr.write(`paypipe: ${firstLine(e.message)}${e.hint ? ` (${e.hint})` : ''}\n`);
  }
  if (debug) stderr.write(`${describe(e.cause ?? e)}\n`);
  return e.exitCode;
}

const NETWORK_HINT = 'check the network, the region, and AWS_ENDPOINT_URL if set; --debug shows details';

const NETWORK_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
] as const;
const NETWORK_IN_TEXT = new RegExp(`\\b(${NETWORK_CODES.join('|')})\\b`);

/**
 * The errno-style code of a network failure (also when the SDK wraps it as the cause, or a layer
 * kept only its text, e.g. "getaddrinfo ENOTFOUND sso.example"), else undefined.
 */
function networkCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES as readonly string[]).includes(code)) return code;
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'ETIMEDOUT';
    const message = (e as { message?: unknown }).message;
    const inText = typeof message === 'string' ? NETWORK_IN_TEXT.exec(message) : null;
    if (inText !== null) return inText[1];
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A thrown value's message: Errors and error-like objects by their message, anything else inspected. */
function messageOf(x: unknown): string {
  if (x instanceof Error) return x.message || x.name;
  const m = (x as { message?: unknown } | null)?.message;
  if (typeof m === 'string' && m !== '') return m;
  if (typeof x === 'string') return x;
  return inspect(x, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
}

/** For --debug: the stack, the cause chain and every own property (SDK metadata), never "[object Object]". */
function describe(x: unknown): string {
  return typeof x === 'string' ? x : inspect(x, { depth: 6, breakLength: 120 });
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;
