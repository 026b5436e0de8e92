/**
 * Flag parsing shared by every command: each parser validates up front and throws a one-line
 * usage error naming the flag and the allowed range (exit 2). Also the target flags
 * (--local/--data-dir vs --env/--region/--profile) and the Io built from global flags.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
// Types only: the CLI entry bundles commander, and a value import here would load a second copy.
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { formatDuration, parseDuration } from '../pipeline/duration.js';
import { parseWhen, type WhenFlag, type WhenVocabulary, whenForms } from '../pipeline/time-range.js';
import { hintContext } from './hints.js';
import { Io } from './io.js';

export const DEFAULT_DATA_DIR = '.paypipe';

/** commander argParser for an integer flag within [min, max]. */
export const intFlag =
  (flag: string, min: number, max: number) =>
  (value: string): number => {
    const n = Number(value.replaceAll('_', ''));
    if (!/^-?[\d_]+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw usageError(
        `${flag} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got "${value}"`,
      );
    }
    return n;
  };

/** commander argParser for a decimal number flag within [min, max]. */
export const numberFlag =
  (flag: string, min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw usageError(`${flag} must be a number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };

/** commander argParser for a duration like 30s, 10m, 2h, 1d (returns milliseconds). */
export const durationFlag =
  (flag: string, minMs: number, maxMs: number) =>
  (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      throw usageError(`${flag} must be a duration like 30s, 10m, 2h or 1d, got "${value}"`);
    }
    if (ms < minMs || ms > maxMs) {
      throw usageError(
        `${flag} must be from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, got "${value}"`,
      );
    }
    return ms;
  };

export interface WhenFlagOptions extends WhenVocabulary {
  /** Bounds for a duration ago. */
  minAgoMs?: number;
  maxAgoMs?: number;
}

/**
 * commander argParser for every time flag (`--since`, `--until` and their old spellings): one
 * parser (src/pipeline/time-range.ts), one message naming the flag as typed and the forms this
 * flag takes (the same text its help shows: see whenHelp).
 */
export const whenFlag =
  (flag: string, o: WhenFlagOptions = {}) =>
  (value: string): WhenFlag => {
    const w = parseWhen(value);
    if (
      w === undefined ||
      (w.kind === 'trim-horizon' && o.positions !== true) ||
      (w.kind === 'now' && o.now === false) ||
      (o.durationOnly === true && w.kind !== 'ago')
    ) {
      throw usageError(`${flag} must be ${whenForms(o)}, got "${value}"`);
    }
    if (w.kind === 'ago') {
      const min = o.minAgoMs ?? 0;
      const max = o.maxAgoMs ?? Number.POSITIVE_INFINITY;
      if (w.ms < min || w.ms > max) {
        const bounds =
          min === 0
            ? `at most ${formatDuration(max)}`
            : `from ${formatDuration(min)} to ${formatDuration(max)}`;
        throw usageError(`${flag} must be ${bounds} ago, got "${value}"`);
      }
    }
    return { ...w, flag, text: value.trim() };
  };

/** A time flag's help: what it means, then exactly the forms its parser (whenFlag) takes. */
export const whenHelp = (lead: string, o: WhenFlagOptions, tail = ''): string =>
  `${lead}: ${whenForms(o, { ago: true })}${tail === '' ? '' : ` ${tail}`}`;

/**
 * `--since <when>` / `--until <when>` of the commands that select a half-open range [since, until)
 * of the archive (results, query, reconcile): one declaration, so the same words mean the same
 * thing. A start of `now` would select nothing and is neither offered nor accepted; `--until now`
 * is the default end.
 */
export function addRangeOptions(cmd: Command, o: { maxAgoMs: number }): Command {
  const since: WhenFlagOptions = { now: false, minAgoMs: 60_000, maxAgoMs: o.maxAgoMs };
  const until: WhenFlagOptions = { maxAgoMs: o.maxAgoMs };
  return cmd
    .option('--since <when>', whenHelp('start', since, '(default: 1h)'), whenFlag('--since', since))
    .option(
      '--until <when>',
      whenHelp('end (exclusive)', until, '(default: now)'),
      whenFlag('--until', until),
    );
}

/** commander argParser for one of a fixed set of words. */
export const choiceFlag =
  <T extends string>(flag: string, choices: readonly T[]) =>
  (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw usageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
    }
    return value as T;
  };

/**
 * commander argParser for a directory flag (--data-dir): a path that exists but is not a directory
 * is named as such, before anything tries to read a file inside it.
 */
export const dirFlag =
  (flag: string) =>
  (value: string): string => {
    if (value.trim() === '') throw usageError(`${flag} must be a directory path, got ""`);
    const st = statSync(value, { throwIfNoEntry: false });
    if (st !== undefined && !st.isDirectory()) {
      throw usageError(`${flag} ${value} is not a directory`, 'give a directory path');
    }
    return value;
  };

/**
 * commander argParser for `--assembly <dir>` (demo, up): a cloud assembly is a directory with a
 * manifest.json. Checked while the flags are parsed, so a wrong path is one line before anything
 * starts (no servers, no data directory); assemblyFor checks the same for callers without flags.
 */
export const assemblyFlag =
  (flag: string) =>
  (value: string): string => {
    assertAssemblyDir(flag, value);
    return value;
  };

export function assertAssemblyDir(flag: string, dir: string): void {
  if (dir.trim() === '') throw usageError(`${flag} must be a directory path, got ""`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    const st = statSync(dir, { throwIfNoEntry: false });
    const why =
      st === undefined ? 'does not exist' : st.isDirectory() ? 'has no manifest.json' : 'is not a directory';
    throw usageError(
      `${flag} ${dir} is not a cloud assembly (it ${why})`,
      'pass the directory `paypipe synth --out <dir>` wrote (default cdk.out), or leave --assembly out',
    );
  }
}

/**
 * `-n, --count <n>` means one thing in every command: how many records (events to send, records
 * to show). The old `--limit` of peek and dead-letters is kept as a hidden spelling.
 */
export function pickCount(f: { count?: number | undefined; limit?: number | undefined }): number | undefined {
  if (f.count !== undefined && f.limit !== undefined) {
    throw usageError('--count and --limit are the same option; give one of them');
  }
  return f.count ?? f.limit;
}

/** Flags that pick AWS or the local pipeline; shared by send, results, peek, logs, doctor, schedule. */
export interface TargetFlags {
  local?: boolean;
  dataDir?: string;
  env?: string;
  project?: string;
  region?: string;
  profile?: string;
  stack?: string;
}

export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--local', 'use the local pipeline started by `paypipe up` instead of AWS')
    .option(
      '--data-dir <dir>',
      'local pipeline data directory (with --local)',
      dirFlag('--data-dir'),
      DEFAULT_DATA_DIR,
    )
    .option('--env <name>', 'deployed environment', 'dev')
    .option('--project <name>', 'project name (stack is <project>-<env>)', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: the SDK credential chain)')
    .option('--stack <name>', 'CloudFormation stack name (default: <project>-<env>)');
}

/** The Io for a command, from its own and the global flags (--json, --debug, --quiet). */
export function ioFor(cmd: Command): Io {
  const o = cmd.optsWithGlobals() as { json?: boolean; debug?: boolean; quiet?: boolean };
  return new Io({
    json: o.json === true,
    debug: o.debug === true,
    quiet: o.quiet === true,
    hints: hintContext(cmd),
  });
}
