/**
 * Where AWS calls go: the one resolver of region, profile and endpoints, used by every command
 * (data, stack and doctor alike) so they all give the same answer for the same flags and
 * environment. Synchronous and light on purpose: commands resolve this before loading anything
 * heavy, so a bad region is a usage error at once.
 *
 * - Region: `--region` > `AWS_REGION` > `AWS_DEFAULT_REGION` > the profile's `region` in the shared
 *   config file (then the credentials file, as the SDK reads it) > the paypipe default. An empty
 *   value means unset, as in the SDK and the aws CLI; a malformed one is a usage error naming
 *   where it came from.
 * - Profile: `--profile` > `AWS_PROFILE` (empty = unset); none means the SDK's default chain.
 * - Endpoints: `AWS_ENDPOINT_URL_<SERVICE>` > `AWS_ENDPOINT_URL`, off with
 *   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`; the variable names are the SDK's (service id,
 *   upper case, spaces as underscores). Resolved here so a malformed URL is one clear line and
 *   tests can inject the environment; an `endpoint_url` in the config file is left to the SDK.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { DEFAULT_REGION } from '../pipeline/config.js';

/** The services paypipe calls, by the SDK's service id (which names the endpoint variable). */
const SERVICE_IDS = {
  cloudformation: 'CloudFormation',
  cloudwatch: 'CloudWatch',
  'cloudwatch-logs': 'CloudWatch Logs',
  eventbridge: 'EventBridge',
  firehose: 'Firehose',
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
): RegionAnswer {
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
  const profile = resolveProfile(flags, env) ?? 'default';
  const fromProfile = profileRegion(profile, env);
  if (fromProfile !== undefined) {
    if (!isRegionName(fromProfile.region)) {
      throw usageError(
        `profile "${profile}" in ${fromProfile.file} has region "${printable(fromProfile.region)}", which is not an AWS region name`,
        `fix the region of that profile, or pass --region`,
      );
    }
    return { region: fromProfile.region, source: `profile ${profile}` };
  }
  return { region: fallback, source: 'paypipe default' };
}

/** Endpoint override for one service from the environment, or undefined (the SDK's default). */
export function resolveEndpoint(
  service: AwsService,
  env: NodeJS.ProcessEnv = process.env,
): { url: string; variable: string } | undefined {
  if (given(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)?.toLowerCase() === 'true') return undefined;
  const specific = `AWS_ENDPOINT_URL_${SERVICE_IDS[service].toUpperCase().replaceAll(' ', '_')}`;
  for (const variable of [specific, 'AWS_ENDPOINT_URL']) {
    const url = given(env[variable]);
    if (url === undefined) continue;
    if (!isEndpointUrl(url)) {
      throw usageError(
        `${variable} "${printable(url)}" is not an endpoint URL`,
        `give one like http://localhost:4566, or unset ${variable} to call AWS`,
      );
    }
    return { url, variable };
  }
  return undefined;
}

/** Every service's endpoint override (only the services that have one). */
function resolveEndpoints(env: NodeJS.ProcessEnv = process.env): ServiceEndpoints {
  const out: ServiceEndpoints = {};
  for (const service of Object.keys(SERVICE_IDS) as AwsService[]) {
    const e = resolveEndpoint(service, env);
    if (e !== undefined) out[service] = e.url;
  }
  return out;
}

/** Region, profile and endpoints for AWS clients: the one answer every command uses. */
export function resolveAwsSettings(
  flags: AwsFlags,
  env: NodeJS.ProcessEnv = process.env,
  fallbackRegion: string = DEFAULT_REGION,
): AwsSettings {
  const { region, source } = resolveRegion(flags, env, fallbackRegion);
  return {
    kind: 'aws',
    region,
    regionSource: source,
    profile: resolveProfile(flags, env),
    endpoints: resolveEndpoints(env),
  };
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

/**
 * The profile's `region` as the SDK reads it: from the config file's `[profile NAME]` (or
 * `[default]`), else from the credentials file's `[NAME]`. Unreadable or missing files have none.
 */
function profileRegion(
  profile: string,
  env: NodeJS.ProcessEnv,
): { region: string; file: string } | undefined {
  const files = sharedFiles(env);
  const config = readIni(files.config);
  // `[profile default]` replaces `[default]` in the config file, as in the SDK.
  const fromConfig = (
    config.get(`profile ${profile}`) ?? (profile === 'default' ? config.get('default') : undefined)
  )?.get('region');
  if (fromConfig !== undefined) return { region: fromConfig, file: files.config };
  const fromCredentials = readIni(files.credentials).get(profile)?.get('region');
  if (fromCredentials !== undefined) return { region: fromCredentials, file: files.credentials };
  return undefined;
}

function readIni(file: string): Map<string, Map<string, string>> {
  try {
    return parseIni(readFileSync(file, 'utf8'));
  } catch {
    return new Map();
  }
}

/**
 * Sections → top-level keys, with the SDK's rules: `#`/`;` comments (at the start or after
 * whitespace), `[profile  name]` normalised to `profile name`, and a key with an empty value opens
 * a sub-section whose indented keys (`s3 =\n  addressing_style = path`) are not the profile's own.
 */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  let inSubSection = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = (raw.split(/(?:^|\s)[;#]/)[0] ?? '').trim();
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1).trim();
      const m = /^(\S+)\s+(["']?)(.+)\2$/.exec(name);
      const key = m === null ? name : `${m[1]} ${m[3]}`;
      current = sections.get(key) ?? new Map();
      sections.set(key, current);
      inSubSection = false;
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq <= 0) continue;
    const k = line.slice(0, eq).trim();
    const v = line.slice(eq + 1).trim();
    const indented = raw.trimStart() !== raw;
    if (v === '') {
      inSubSection = true;
      continue;
    }
    if (inSubSection && indented) continue;
    inSubSection = false;
    current.set(k, v);
  }
  return sections;
}
