/**
 * Flag parsing shared by every command: each parser validates up front and throws a one-line
 * usage error naming the flag and the allowed range (exit 2). Also the target flags
 * (--local/--data-dir vs --env/--region/--profile) and the Io built from global flags.
 */
// Types only: the CLI entry bundles commander, and a value import here would load a second copy.
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { parseDuration } from '../pipeline/duration.js';
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
      throw usageError(`${flag} must be from ${formatMs(minMs)} to ${formatMs(maxMs)}, got "${value}"`);
    }
    return ms;
  };

/** commander argParser for one of a fixed set of words. */
export const choiceFlag =
  <T extends string>(flag: string, choices: readonly T[]) =>
  (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw usageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
    }
    return value as T;
  };

export const formatMs = (ms: number): string => {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
};

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
    .option('--data-dir <dir>', 'local pipeline data directory (with --local)', DEFAULT_DATA_DIR)
    .option('--env <name>', 'deployed environment', 'dev')
    .option('--project <name>', 'project name (stack is <project>-<env>)', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: the SDK credential chain)')
    .option('--stack <name>', 'CloudFormation stack name (default: <project>-<env>)');
}

/** The Io for a command, from its own and the global flags (--json, --debug, --quiet). */
export function ioFor(cmd: Command): Io {
  const o = cmd.optsWithGlobals() as { json?: boolean; debug?: boolean; quiet?: boolean };
  return new Io({ json: o.json === true, debug: o.debug === true, quiet: o.quiet === true });
}
