/**
 * The one way every command gets its configuration: finds and reads paypipe.config.json, merges it
 * with the flags and environment variables (the one rule in src/pipeline/config-file.ts), resolves
 * it, and turns every problem into one line naming the file, the key, the value and what is allowed.
 * The stack (synth/diff/deploy/destroy), the local pipeline (`up`, `demo`, and every `--local`
 * command through the overrides `up` records), the data commands and doctor all call this, so they
 * read the same resolved object. Synchronous and light: a file read and a JSON parse.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { type AwsSettings, resolveAwsSettings, resolveRegion } from '../aws/settings.js';
import { PaypipeError } from '../errors.js';
import {
  CONFIG_FILE_NAME,
  type ConfigFile,
  ConfigFileError,
  MAX_CONFIG_FILE_BYTES,
  type SettingSource,
  describeSource,
  mergeSettings,
  parseConfigFile,
} from '../pipeline/config-file.js';
import {
  BUILTIN_ENVIRONMENTS,
  ConfigError,
  type ConfigOverrides,
  type PipelineConfig,
  type SettingKey,
  type Settings,
  resolveConfig,
} from '../pipeline/config.js';

/** Set by `--config <file>` (main.ts) for the whole invocation; also settable by hand. */
export const CONFIG_ENV_VARIABLE = 'PAYPIPE_CONFIG';

export interface LoadConfigOptions {
  /** --env (default dev). */
  env?: string | undefined;
  /** --profile: its region is the region when nothing above it sets one. */
  profile?: string | undefined;
  /** --project. */
  project?: string | undefined;
  /** --region. */
  region?: string | undefined;
  /** Other settings given by a command's own flags, with the flag's name (e.g. shardCount ← --shards). */
  flags?: Partial<{ [K in SettingKey]: { value: Settings[K]; flag: string } }>;
  /** An explicit file (default: PAYPIPE_CONFIG, else paypipe.config.json in cwd if present). */
  configPath?: string | undefined;
  cwd?: string;
  envVars?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: PipelineConfig;
  /** What resolveConfig was given: record it (endpoints.json) to resolve the same config later. */
  overrides: ConfigOverrides;
  sources: Record<SettingKey, SettingSource>;
  /** The file read (absolute path), if any. */
  file: string | undefined;
  /** Things worth knowing about the effective values (not errors). */
  notes: string[];
}

const usage = (message: string, hint?: string): PaypipeError =>
  new PaypipeError('USAGE', message, hint === undefined ? {} : { hint });

/** Reads the file (refusing huge ones unread) and parses it; errors name the file as given. */
function readConfigFile(path: string, label: string): ConfigFile {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw usage(`config file ${label} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof PaypipeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw usage(
      code === 'ENOENT'
        ? `config file ${label} does not exist`
        : `cannot read config file ${label} (${code})`,
      `pass an existing file to --config (or ${CONFIG_ENV_VARIABLE}), or create ${CONFIG_FILE_NAME}`,
    );
  }
  if (size > MAX_CONFIG_FILE_BYTES) {
    throw usage(`${label} is ${size.toLocaleString('en-US')} bytes; a configuration file is at most 1 MiB`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw usage(`cannot read config file ${label} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return parseConfigFile(text, label);
  } catch (e) {
    if (e instanceof ConfigFileError) throw usage(e.message, e.hint);
    throw e;
  }
}

/** Where the file is: explicit path, PAYPIPE_CONFIG, or paypipe.config.json in cwd (else none). */
export function findConfigFile(
  opts: Pick<LoadConfigOptions, 'configPath' | 'cwd' | 'envVars'>,
): { path: string; label: string } | undefined {
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.configPath ?? nonEmpty((opts.envVars ?? process.env)[CONFIG_ENV_VARIABLE]);
  if (explicit !== undefined) return { path: resolve(cwd, explicit), label: explicit };
  const here = join(cwd, CONFIG_FILE_NAME);
  return existsSync(here) ? { path: here, label: CONFIG_FILE_NAME } : undefined;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const envVars = opts.envVars ?? process.env;
  const environment = opts.env ?? 'dev';
  const found = findConfigFile(opts);
  const content = found === undefined ? undefined : readConfigFile(found.path, found.label);
  if (
    content?.environments !== undefined &&
    !Object.hasOwn(content.environments, environment) &&
    !Object.hasOwn(BUILTIN_ENVIRONMENTS, environment)
  ) {
    // A typo in --env must not deploy a new stack with the defaults.
    const names = Object.keys(content.environments);
    throw usage(
      `environment "${environment}" has no section in ${found?.label} (it has ${names.length === 0 ? 'none' : names.join(', ')})`,
      `add "environments": { "${environment}": {} } to ${found?.label} to use the defaults for it`,
    );
  }
  const flags: NonNullable<LoadConfigOptions['flags']> = { ...opts.flags };
  if (opts.project !== undefined) flags.project = { value: opts.project, flag: '--project' };
  if (opts.region !== undefined) flags.region = { value: opts.region, flag: '--region' };
  // Below the file: the region AWS_REGION, AWS_DEFAULT_REGION or the profile give, as the one AWS
  // settings resolver finds it (it throws the usage error for a malformed one).
  const outside = resolveRegion({ profile: opts.profile }, envVars, '');
  const merged = mergeSettings({
    environment,
    flags,
    file: found === undefined || content === undefined ? undefined : { label: found.label, content },
    ambient: outside.region === '' ? {} : { region: { value: outside.region, source: outside.source } },
  });
  let config: PipelineConfig;
  try {
    config = resolveConfig(merged.overrides);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw usage(attribute(e, merged.sources, merged.overrides));
  }
  return {
    config,
    overrides: merged.overrides,
    sources: merged.sources,
    file: found?.path,
    notes: configNotes(config),
  };
}

/**
 * Region, profile and endpoints for AWS clients of this configuration: the one resolver
 * (src/aws/settings.ts), told the region the file gives the environment, so both agree.
 */
export function awsSettingsFor(
  loaded: LoadedConfig,
  flags: { region?: string | undefined; profile?: string | undefined },
  envVars: NodeJS.ProcessEnv = process.env,
): AwsSettings {
  const src = loaded.sources.region;
  const configured =
    src.layer === 'file-environment' || src.layer === 'file-defaults'
      ? { region: loaded.config.region, source: describeSource(src) }
      : undefined;
  return resolveAwsSettings(
    { region: flags.region, profile: flags.profile },
    envVars,
    loaded.config.region,
    configured,
  );
}

/** The flags every AWS-facing command has for its environment. */
export interface EnvironmentFlags {
  env?: string | undefined;
  project?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
}

/** The environment's configuration and the AWS settings (region, profile, endpoints) that go with it. */
export function loadEnvironment(
  flags: EnvironmentFlags,
  envVars: NodeJS.ProcessEnv = process.env,
): { loaded: LoadedConfig; aws: AwsSettings } {
  const loaded = loadConfig({ ...flags, envVars });
  return { loaded, aws: awsSettingsFor(loaded, flags, envVars) };
}

/** A resolveConfig complaint, said about where the offending value came from. */
function attribute(
  e: ConfigError,
  sources: Record<SettingKey, SettingSource>,
  overrides: ConfigOverrides,
): string {
  if (e.field === 'environment') return e.message;
  const key = e.field as SettingKey;
  const source = sources[key];
  if (source === undefined) return e.message;
  const value = (overrides as Record<string, unknown>)[key];
  switch (source.layer) {
    case 'flag':
      return e.message.replace(new RegExp(`^${key}\\b`), `${source.flag}`);
    case 'env':
      return `${source.variable} "${String(value)}" is not an AWS region name like ap-southeast-2`;
    case 'file-environment':
    case 'file-defaults':
      return `${describeSource(source)}: ${e.message}`;
    default:
      return e.message;
  }
}

/** What an operator should know about a valid configuration (shown by `paypipe config`). */
export function configNotes(c: PipelineConfig): string[] {
  const notes: string[] = [];
  const agg = c.aggregator;
  const retentionS = c.streams.input.retentionHours * 3600;
  if (agg.maxRecordAgeSeconds !== -1 && agg.maxRecordAgeSeconds < retentionS) {
    notes.push(
      `maxRecordAgeSeconds (${agg.maxRecordAgeSeconds}) is shorter than the stream retention (${c.streams.input.retentionHours} h): batches older than that go to the failure destination; \`paypipe redrive\` replays them while the stream still holds them`,
    );
  }
  if (agg.retryAttempts !== -1) {
    notes.push(
      `retryAttempts is ${agg.retryAttempts}: a batch still failing after that goes to the failure destination; \`paypipe redrive\` replays it within ${c.streams.input.retentionHours} h`,
    );
  }
  if (c.removalPolicy === 'destroy' && c.encryption.customerManagedKey) {
    notes.push(
      'removalPolicy destroy with kms: `paypipe destroy` schedules the key for deletion with the buckets',
    );
  }
  return notes;
}

/** How to name a file in output: relative to cwd when inside it, else absolute. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const r = relative(cwd, path);
  return r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r : path;
}
