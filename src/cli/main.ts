/**
 * Builds the commander program. Command modules under ./commands are light (flag definitions
 * only) and import their heavy implementation lazily inside the action, so `paypipe --help`
 * loads neither the AWS SDK nor aws-cdk-lib.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isPaypipeError, PaypipeError } from '../errors.js';
import { ConfigError } from '../pipeline/config.js';
import { register as demo } from './local/demo-command.js';
import { register as up } from './local/up-command.js';
import { register as send } from './send/command.js';
import { register as results } from './results/command.js';
import { register as peek } from './peek/command.js';
import { register as deadLetters } from './dead-letters/command.js';
import { register as logs } from './logs/command.js';
import { register as doctor } from './doctor/command.js';
import { register as schedule } from './schedule/command.js';
import { register as synth } from './stack/synth-command.js';
import { register as diff } from './stack/diff-command.js';
import { register as deploy } from './stack/deploy-command.js';
import { register as destroy } from './stack/destroy-command.js';
import { register as outputs } from './stack/outputs-command.js';

type Register = (program: Command) => void;

// Command modules are light (flags, help text); each loads its implementation lazily in its action.
// Listed in the order --help shows them.
const commandModules: Register[] = [
  demo,
  up,
  send,
  results,
  peek,
  deadLetters,
  logs,
  doctor,
  schedule,
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

export async function buildProgram(): Promise<Command> {
  const program = new Command('paypipe')
    .description(
      'Run and operate a real-time payment pipeline: Kinesis → Lambda (1-minute windows) → Firehose → S3.\n' +
        'Works against AWS (default) or an embedded local pipeline (`paypipe up`, `--local`).',
    )
    .version(version(), '-V, --version', 'print the paypipe version')
    .option('--json', 'machine-readable output on stdout (progress stays on stderr)')
    .option('--debug', 'show stack traces and SDK details on errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Commander's own usage errors are re-rendered by reportError as one line.
      outputError: () => {},
    })
    .addHelpText(
      'after',
      `
Examples:
  $ paypipe demo                       # the whole pipeline on this machine, no AWS account
  $ paypipe up                         # keep the local pipeline running (Ctrl-C stops it)
  $ paypipe send --count 500 --local   # a burst of events into the local pipeline
  $ paypipe results --last 30m --local # merged per-minute aggregates
  $ paypipe deploy --env dev           # the bundled CDK stack on AWS`,
    );
  for (const register of commandModules) register(program);
  // Subcommands inherit exitOverride and the silent error output.
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through exitOverride too; they are successes.
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help' ||
        err.exitCode === 0
      ) {
        return;
      }
      const names = new Set(program.commands.map((c) => c.name()));
      const sub = argv.slice(2).find((a) => names.has(a));
      throw new PaypipeError('USAGE', err.message.replace(/^error: /, ''), {
        hint: `see \`paypipe ${sub === undefined ? '' : `${sub} `}--help\``,
      });
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
  if (isPaypipeError(err)) e = err;
  else if (err instanceof ConfigError) e = new PaypipeError('USAGE', err.message);
  else if (networkCode(err) !== undefined) {
    // An endpoint that cannot be reached is the environment, not a paypipe bug: say which and why.
    const n = err as { code?: string; address?: string; port?: number; hostname?: string };
    const where =
      n.address !== undefined ? `${n.address}${n.port === undefined ? '' : `:${n.port}`}` : n.hostname;
    e = new PaypipeError(
      'AWS',
      `network error: ${networkCode(err)}${where === undefined ? '' : ` reaching ${where}`}`,
      {
        hint: 'check the network, the region, and AWS_ENDPOINT_URL if set; --debug shows details',
        cause: err,
      },
    );
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    e = new PaypipeError('INTERNAL', `unexpected error: ${firstLine(msg)}`, {
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
  if (debug) {
    const cause = e.cause ?? e;
    stderr.write(`${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`);
  }
  return e.exitCode;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** The errno-style code of a network failure (also when the SDK wraps it as the cause), else undefined. */
function networkCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'ETIMEDOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;
