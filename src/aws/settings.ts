/**
 * Where AWS calls go: the one resolver of region, profile and endpoints, used by every command
 * (data, stack and doctor alike) so they all give the same answer for the same flags and
 * environment. Synchronous and light on purpose: commands resolve this before loading anything
 * heavy, so a bad region is a usage error at once.
 *
 * - Region: `--region` > the environment's region in paypipe.config.json (`configured`: a stack's
 *   place is part of its definition, so a shell's AWS_REGION must not move it) > `AWS_REGION` >
 *   `AWS_DEFAULT_REGION` > the profile's `region` in the shared config file (then the credentials
 *   file, as the SDK reads it) > the paypipe default. An empty value means unset, as in the SDK and
 *   the aws CLI; a malformed one is a usage error naming where it came from.
 * - Profile: `--profile` > `AWS_PROFILE` (empty = unset); none means the SDK's default chain.
 * - Endpoints, with the SDK's names and order: `AWS_ENDPOINT_URL_<SERVICE>` > `AWS_ENDPOINT_URL` >
 *   the profile's `services` section (`kinesis =\n  endpoint_url = …`) > the profile's
 *   `endpoint_url`; none with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or the profile's
 *   `ignore_configured_endpoint_urls = true`). Resolved here, not by the SDK (the clients tell it
 *   to ignore configured endpoints), so a malformed URL is one clear line naming its source and
 *   the answer depends only on the environment given.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { DEFAULT_REGION } from '../pipeline/config.js';

/** The services paypipe calls, by the SDK's service id (which names the endpoint variable). */
const SERVICE_IDS = {
  athena: 'Athena',
  cloudformation: 'CloudFormation',
  cloudwatch: 'CloudWatch',
  'cloudwatch-logs': 'CloudWatch Logs',
  eventbridge: 'EventBridge',
  firehose: 'Firehose',
  glue: 'Glue',
  kinesis: 'Kinesis',
  lambda: 'Lambda',
  s3: 'S3',
  sqs: 'SQS',
  sts: 'STS',
} as const;

export type AwsService = keyof typeof SERVICE_IDS;

export type ServiceEndpoints = Partial<Record<AwsService, string>>;

/** What an AWS client needs to know besides credentials (those come from `profile` or the chain). */
export interface AwsClientTarget {
  kind: 'aws';
  region: string;
  profile?: string | undefined;
  /**
   * Endpoint overrides by service, as resolved by resolveAwsSettings (empty: none). When absent,
   * the clients resolve them from this process's environment the same way.
   */
  endpoints?: ServiceEndpoints | undefined;
}

export interface AwsSettings extends AwsClientTarget {
  /** Where the region came from, for messages and doctor: `--region`, `AWS_REGION`, `profile dev`… */
  regionSource: string;
  endpoints: ServiceEndpoints;
}

export interface AwsFlags {
  region?: string | undefined;
  profile?: string | undefined;
}

/** Unset or empty → undefined: an empty variable is unset (CI templates export them empty). */
const given = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

const REGION_NAME = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;

const isRegionName = (s: string): boolean => REGION_NAME.test(s);

/** `--profile` > `AWS_PROFILE`; undefined means the SDK's default credential chain. */
export const resolveProfile = (flags: AwsFlags, env: NodeJS.ProcessEnv = process.env): string | undefined =>
  given(flags.profile) ?? given(env.AWS_PROFILE);

export interface RegionAnswer {
  region: string;
  source: string;
}

/**
 * The region and where it came from. Throws a usage error (exit 2) for a malformed region,
 * naming its source; `fallback` is the paypipe default (the configuration's region).
 */
export function resolveRegion(
  flags: AwsFlags,
  env: NodeJS.ProcessEnv = process.env,
  fallback: string = DEFAULT_REGION,
  configured?: RegionAnswer,
): RegionAnswer {
  if (given(flags.region) === undefined && configured !== undefined) return configured;
  const fromFlagOrEnv: Array<[string, string | undefined]> = [
    ['--region', given(flags.region)],
    ['AWS_REGION', given(env.AWS_REGION)],
    ['AWS_DEFAULT_REGION', given(env.AWS_DEFAULT_REGION)],
  ];
  for (const [source, region] of fromFlagOrEnv) {
    if (region === undefined) continue;
    if (!isRegionName(region)) {
      throw usageError(
        `${source} "${printable(region)}" is not an AWS region name`,
        source === '--region'
          ? 'use a region like ap-southeast-2'
          : `set ${source} to a region like ap-southeast-2, or unset it`,
      );
    }
    return { region, source };
  }
  const profile = loadProfile(resolveProfile(flags, env), env);
  const fromProfile = profile.get('region');
  if (fromProfile !== undefined) {
    if (!isRegionName(fromProfile.value)) {
      throw usageError(
        `profile "${profile.name}" in ${fromProfile.file} has region "${printable(fromProfile.value)}", which is not an AWS region name`,
        `fix the region of that profile, or pass --region`,
      );
    }
    return { region: fromProfile.value, source: `profile ${profile.name}` };
  }
  return { region: fallback, source: 'paypipe default' };
}

/**
 * Endpoint override for one service, and where it came from; undefined means AWS's own endpoint.
 * `profile` is the shared-config profile in use (read from the files when not given).
 */
export function resolveEndpoint(
  service: AwsService,
  env: NodeJS.ProcessEnv = process.env,
  profile: SharedProfile = loadProfile(given(env.AWS_PROFILE), env),
): { url: string; source: string } | undefined {
  const ignore =
    given(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) ?? profile.get('ignore_configured_endpoint_urls')?.value;
  if (ignore?.toLowerCase() === 'true') return undefined;
  const id = SERVICE_IDS[service];
  const specific = `AWS_ENDPOINT_URL_${id.toUpperCase().replaceAll(' ', '_')}`;
  const candidates: Array<[string, string | undefined]> = [
    [specific, given(env[specific])],
    ['AWS_ENDPOINT_URL', given(env.AWS_ENDPOINT_URL)],
  ];
  const services = profile.get('services');
  if (services !== undefined) {
    const key = `${id.toLowerCase().replaceAll(' ', '_')}.endpoint_url`;
    candidates.push([
      `services ${services.value} in ${services.file}`,
      profile.section(`services ${services.value}`)?.get(key),
    ]);
  }
  const own = profile.get('endpoint_url');
  if (own !== undefined) candidates.push([`profile "${profile.name}" in ${own.file}`, own.value]);
  for (const [source, url] of candidates) {
    if (url === undefined) continue;
    if (isEndpointUrl(url)) return { url, source };
    throw source.startsWith('AWS_')
      ? usageError(
          `${source} "${printable(url)}" is not an endpoint URL`,
          `give one like http://localhost:4566, or unset ${source} to call AWS`,
        )
      : usageError(
          `${source} has endpoint_url "${printable(url)}", which is not an endpoint URL`,
          'fix that endpoint_url, or set AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true',
        );
  }
  return undefined;
}

/** Every service's endpoint override (only the services that have one). */
export function resolveEndpoints(
  env: NodeJS.ProcessEnv = process.env,
  profileName: string | undefined = given(env.AWS_PROFILE),
): ServiceEndpoints {
  const profile = loadProfile(profileName, env);
  const out: ServiceEndpoints = {};
  for (const service of Object.keys(SERVICE_IDS) as AwsService[]) {
    const e = resolveEndpoint(service, env, profile);
    if (e !== undefined) out[service] = e.url;
  }
  return out;
}

/** Region, profile and endpoints for AWS clients: the one answer every command uses. */
export function resolveAwsSettings(
  flags: AwsFlags,
  env: NodeJS.ProcessEnv = process.env,
  fallbackRegion: string = DEFAULT_REGION,
  configuredRegion?: RegionAnswer,
): AwsSettings {
  const { region, source } = resolveRegion(flags, env, fallbackRegion, configuredRegion);
  const profile = resolveProfile(flags, env);
  return { kind: 'aws', region, regionSource: source, profile, endpoints: resolveEndpoints(env, profile) };
}

function isEndpointUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Values end up in one-line messages: never let one carry a newline or escape sequence. */
const printable = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

// ------------------------------------------------------------------------ shared config files

/** The shared config and credentials files, as the SDK finds them. */
function sharedFiles(env: NodeJS.ProcessEnv): { config: string; credentials: string } {
  const home = given(env.HOME) ?? given(env.USERPROFILE) ?? homedir();
  return {
    config: given(env.AWS_CONFIG_FILE) ?? join(home, '.aws', 'config'),
    credentials: given(env.AWS_SHARED_CREDENTIALS_FILE) ?? join(home, '.aws', 'credentials'),
  };
}

/** One profile of the shared files, as the SDK reads it. */
export interface SharedProfile {
  name: string;
  /** A key of the profile: from the config file, else from the credentials file. */
  get(key: string): { value: string; file: string } | undefined;
  /** Another section of the config file (`services NAME`). */
  section(name: string): Map<string, string> | undefined;
}

/**
 * The profile (default: `default`) from the config file's `[profile NAME]` (or `[default]`;
 * `[profile default]` replaces it, as in the SDK) and the credentials file's `[NAME]`, the
 * config file winning. Unreadable or missing files are empty.
 */
function loadProfile(name: string | undefined, env: NodeJS.ProcessEnv): SharedProfile {
  const profile = name ?? 'default';
  const files = sharedFiles(env);
  const config = readIni(files.config);
  const fromConfig =
    config.get(`profile ${profile}`) ?? (profile === 'default' ? config.get('default') : undefined);
  const fromCredentials = readIni(files.credentials).get(profile);
  return {
    name: profile,
    get: (key) => {
      const c = fromConfig?.get(key);
      if (c !== undefined) return { value: c, file: files.config };
      const k = fromCredentials?.get(key);
      return k === undefined ? undefined : { value: k, file: files.credentials };
    },
    section: (n) => config.get(n),
  };
}

function readIni(file: string): Map<string, Map<string, string>> {
  try {
    return parseIni(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
}

/**
 * Sections → keys, with the SDK's rules: `#`/`;` comments (at the start or after whitespace),
 * `[profile  name]` normalised to `profile name`, and a key with an empty value opens a
 * sub-section whose indented keys are stored as `sub.key` (`s3 =\n  endpoint_url = …` gives
 * `s3.endpoint_url`), never as the section's own.
 */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  let sub: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = (raw.split(/(?:^|\s)[;#]/)[0] ?? '').trim();
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1).trim();
      const m = /^(\S+)\s+(["']?)(.+)\2$/.exec(name);
      const key = m === null ? name : `${m[1]} ${m[3]}`;
      current = sections.get(key) ?? new Map();
      sections.set(key, current);
      sub = undefined;
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq <= 0) continue;
    const k = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    if (v === '') {
      sub = k;
      continue;
    }
    if (sub !== undefined && raw.trimStart() === raw) sub = undefined;
    current.set(sub === undefined ? k : `${sub}.${k}`, v);
  }
  return sections;
}
