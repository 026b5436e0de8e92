/**
 * The one resolver of region, profile and endpoints (src/aws/settings.ts). Adversaries: a shell
 * or CI template that exports variables empty, a profile whose region lives only in the shared
 * config file, and malformed values from any source (they must be one usage line naming the
 * source, never a request to a made-up region). Doctor gathers its facts with this function, so
 * these cases are doctor's too; test/aws/region-commands.test.ts runs them through the data and
 * stack commands.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsFlags,
  resolveAwsSettings,
  resolveEndpoint,
  resolveProfile,
  resolveRegion,
} from '../../src/aws/settings.js';
import { isPaypipeError, type PaypipeError } from '../../src/errors.js';

let home: string;
let env: (vars?: Record<string, string | undefined>) => NodeJS.ProcessEnv;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'paypipe-settings-'));
  mkdirSync(join(home, '.aws'));
  writeFileSync(
    join(home, '.aws', 'config'),
    [
      '# the default profile',
      '[default]',
      'region = eu-central-1',
      '',
      '[profile dev]',
      'region=sa-east-1 ; trailing comment',
      's3 =',
      '  region = us-west-1',
      '',
      '[profile "quoted"]',
      'region = ca-central-1',
      '',
      '[profile nested]',
      'services =',
      '  region = us-west-1',
      'output = json',
      '',
      '[profile broken]',
      'region = moon-base-1a',
      '',
      '[profile credsonly]',
      'output = json',
      '',
      '[ops]',
      'region = af-south-1',
      '',
      '[profile local]',
      'endpoint_url = http://localhost:4566',
      '',
      '[profile svc]',
      'services = mine',
      'endpoint_url = http://global.test:1',
      '',
      '[services mine]',
      'kinesis =',
      '  endpoint_url = http://kinesis.test:2',
      'cloudwatch_logs =',
      '  endpoint_url = http://logs.test:3',
      '',
      '[profile quiet]',
      'endpoint_url = http://never.test:9',
      'ignore_configured_endpoint_urls = true',
      '',
      '[profile badurl]',
      'endpoint_url = localhost:4566',
    ].join('\r\n'),
  );
  writeFileSync(
    join(home, '.aws', 'credentials'),
    [
      '[credsonly]',
      'aws_access_key_id = AKIDEXAMPLE',
      'region = me-south-1',
      '',
      '[dev]',
      'region = il-central-1',
    ].join('\n'),
  );
  env = (vars = {}) => {
    const e: NodeJS.ProcessEnv = { HOME: home };
    for (const [k, v] of Object.entries(vars)) if (v !== undefined) e[k] = v;
    return e;
  };
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

const usage = (f: () => unknown): PaypipeError => {
  try {
    f();
  } catch (e) {
    if (isPaypipeError(e) && e.code === 'USAGE') return e;
    throw e;
  }
  throw new Error('expected a usage error');
};

describe('region: flag > AWS_REGION > AWS_DEFAULT_REGION > profile > default', () => {
  type Row = [string, AwsFlags, Record<string, string | undefined>, string, string];
  const rows: Row[] = [
    ['nothing set', {}, {}, 'eu-central-1', 'profile default'],
    ['nothing at all (no config file)', {}, { HOME: '/nonexistent' }, 'ap-southeast-2', 'paypipe default'],
    ['the flag wins', { region: 'eu-west-1' }, { AWS_REGION: 'us-east-1' }, 'eu-west-1', '--region'],
    [
      'AWS_REGION over AWS_DEFAULT_REGION',
      {},
      { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'us-west-2' },
      'us-east-2',
      'AWS_REGION',
    ],
    [
      'empty AWS_REGION is unset',
      {},
      { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1' },
      'us-east-1',
      'AWS_DEFAULT_REGION',
    ],
    ['empty flag is unset', { region: '' }, { AWS_REGION: 'eu-north-1' }, 'eu-north-1', 'AWS_REGION'],
    [
      'both empty: the profile',
      {},
      { AWS_REGION: '', AWS_DEFAULT_REGION: '' },
      'eu-central-1',
      'profile default',
    ],
    [
      'AWS_DEFAULT_REGION over the profile',
      {},
      { AWS_DEFAULT_REGION: 'ap-south-1', AWS_PROFILE: 'dev' },
      'ap-south-1',
      'AWS_DEFAULT_REGION',
    ],
    ['AWS_PROFILE picks the profile', {}, { AWS_PROFILE: 'dev' }, 'sa-east-1', 'profile dev'],
    ['--profile over AWS_PROFILE', { profile: 'dev' }, { AWS_PROFILE: 'ops' }, 'sa-east-1', 'profile dev'],
    ['empty AWS_PROFILE: the default profile', {}, { AWS_PROFILE: '' }, 'eu-central-1', 'profile default'],
    ['a quoted profile name', { profile: 'quoted' }, {}, 'ca-central-1', 'profile quoted'],
    [
      'sub-section keys are not the profile region',
      { profile: 'nested' },
      {},
      'ap-southeast-2',
      'paypipe default',
    ],
    [
      '[NAME] in the config file is not a profile',
      { profile: 'ops' },
      {},
      'ap-southeast-2',
      'paypipe default',
    ],
    [
      'the credentials file, when the config file has none',
      { profile: 'credsonly' },
      {},
      'me-south-1',
      'profile credsonly',
    ],
    ['the config file over the credentials file', { profile: 'dev' }, {}, 'sa-east-1', 'profile dev'],
    [
      'AWS_CONFIG_FILE moves the config file',
      { profile: 'dev' },
      { AWS_CONFIG_FILE: '/nonexistent' },
      'il-central-1',
      'profile dev',
    ],
    ['a profile nobody wrote', { profile: 'ghost' }, {}, 'ap-southeast-2', 'paypipe default'],
    ['GovCloud', { region: 'us-gov-west-1' }, {}, 'us-gov-west-1', '--region'],
    ['ISO partition', {}, { AWS_REGION: 'us-isob-east-1' }, 'us-isob-east-1', 'AWS_REGION'],
  ];
  it.each(rows)('%s', (_name, flags, vars, region, source) => {
    expect(resolveRegion(flags, env(vars))).toEqual({ region, source });
  });

  it('falls back to the configuration region given by the caller', () => {
    expect(resolveRegion({}, env({ HOME: '/nonexistent' }), 'eu-west-3')).toEqual({
      region: 'eu-west-3',
      source: 'paypipe default',
    });
  });
});

describe('a malformed region is one usage line naming where it came from', () => {
  type Row = [AwsFlags, Record<string, string | undefined>, RegExp];
  const rows: Row[] = [
    [{ region: 'us east 1' }, {}, /^--region "us east 1" is not an AWS region name$/],
    [{}, { AWS_REGION: 'Mars' }, /^AWS_REGION "Mars" is not an AWS region name$/],
    [{}, { AWS_REGION: ' ', AWS_DEFAULT_REGION: 'us-east-1' }, /^AWS_REGION " " is not/],
    [{}, { AWS_REGION: '', AWS_DEFAULT_REGION: 'nowhere' }, /^AWS_DEFAULT_REGION "nowhere" is not/],
    [
      { profile: 'broken' },
      {},
      /^profile "broken" in .*\.aws\/config has region "moon-base-1a", which is not/,
    ],
    [{}, { AWS_REGION: 'eu-west-1\n\u001b[31mred' }, /^AWS_REGION "eu-west-1\\u000a\\u001b\[31mred" is not/],
  ];
  it.each(rows)('%j %j', (flags, vars, message) => {
    const e = usage(() => resolveRegion(flags, env(vars)));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/\n/);
    expect(e.hint).toBeTruthy();
  });
});

describe('properties', () => {
  const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'sa-east-1'];
  const value = fc.option(fc.constantFrom('', ...REGIONS), { nil: undefined });
  const profile = fc.option(fc.constantFrom('', 'dev', 'ghost', 'default'), { nil: undefined });
  const setting = fc.record({
    flagRegion: value,
    flagProfile: profile,
    AWS_REGION: value,
    AWS_DEFAULT_REGION: value,
    AWS_PROFILE: profile,
  });
  const run = (s: {
    flagRegion: string | undefined;
    flagProfile: string | undefined;
    AWS_REGION: string | undefined;
    AWS_DEFAULT_REGION: string | undefined;
    AWS_PROFILE: string | undefined;
  }) =>
    resolveAwsSettings(
      { region: s.flagRegion, profile: s.flagProfile },
      env({ AWS_REGION: s.AWS_REGION, AWS_DEFAULT_REGION: s.AWS_DEFAULT_REGION, AWS_PROFILE: s.AWS_PROFILE }),
    );

  it('an empty value resolves exactly as if it were not set', () => {
    fc.assert(
      fc.property(setting, (s) => {
        const unset = Object.fromEntries(
          Object.entries(s).map(([k, v]) => [k, v === '' ? undefined : v]),
        ) as typeof s;
        expect(run(s)).toEqual(run(unset));
      }),
    );
  });

  it('the region is the first source that is set, in precedence order', () => {
    const profileRegion: Record<string, string | undefined> = {
      dev: 'sa-east-1',
      default: 'eu-central-1',
      ghost: undefined,
    };
    fc.assert(
      fc.property(setting, (s) => {
        const nonEmpty = (v: string | undefined) => (v === '' ? undefined : v);
        const named = nonEmpty(s.flagProfile) ?? nonEmpty(s.AWS_PROFILE);
        const expected =
          nonEmpty(s.flagRegion) ??
          nonEmpty(s.AWS_REGION) ??
          nonEmpty(s.AWS_DEFAULT_REGION) ??
          profileRegion[named ?? 'default'] ??
          'ap-southeast-2';
        const r = run(s);
        expect(r.region).toBe(expected);
        expect(r.profile).toBe(named);
      }),
    );
  });

  it('any malformed value in the winning source is a usage error naming it', () => {
    const junk = fc
      .string({ minLength: 1 })
      .filter((x) => !/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/.test(x));
    fc.assert(
      fc.property(junk, fc.constantFrom('--region', 'AWS_REGION', 'AWS_DEFAULT_REGION'), (bad, where) => {
        const flags = where === '--region' ? { region: bad } : {};
        const vars = where === '--region' ? {} : { [where]: bad };
        const e = usage(() => resolveRegion(flags, env(vars)));
        expect(e.message.startsWith(`${where} "`)).toBe(true);
        expect(e.message).not.toMatch(/[\n\r\u001b]/);
      }),
    );
  });
});

describe('profile', () => {
  it('flag > AWS_PROFILE, empty is unset', () => {
    expect(resolveProfile({ profile: 'a' }, { AWS_PROFILE: 'b' })).toBe('a');
    expect(resolveProfile({ profile: '' }, { AWS_PROFILE: 'b' })).toBe('b');
    expect(resolveProfile({}, { AWS_PROFILE: '' })).toBeUndefined();
    expect(resolveProfile({}, {})).toBeUndefined();
  });
});

describe('endpoints: AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL', () => {
  it('uses the service-specific variable, named as the SDK names it', () => {
    const e = {
      HOME: '/nonexistent',
      AWS_ENDPOINT_URL: 'http://all:1',
      AWS_ENDPOINT_URL_KINESIS: 'http://kinesis:2',
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://logs:3',
    };
    expect(resolveEndpoint('kinesis', e)).toEqual({
      url: 'http://kinesis:2',
      source: 'AWS_ENDPOINT_URL_KINESIS',
    });
    expect(resolveEndpoint('cloudwatch-logs', e)?.url).toBe('http://logs:3');
    expect(resolveEndpoint('s3', e)).toEqual({ url: 'http://all:1', source: 'AWS_ENDPOINT_URL' });
    expect(resolveAwsSettings({}, e).endpoints).toMatchObject({
      kinesis: 'http://kinesis:2',
      'cloudwatch-logs': 'http://logs:3',
      s3: 'http://all:1',
      eventbridge: 'http://all:1',
      cloudformation: 'http://all:1',
    });
  });

  it('an empty variable is unset; none set means the SDK default', () => {
    const none = { HOME: '/nonexistent' };
    expect(
      resolveEndpoint('s3', { ...none, AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: 'https://x.example' })?.url,
    ).toBe('https://x.example');
    expect(resolveEndpoint('s3', { ...none, AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: '' })).toBeUndefined();
    expect(resolveAwsSettings({}, { HOME: '/nonexistent' }).endpoints).toEqual({});
  });

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns them off', () => {
    const e = {
      HOME: '/nonexistent',
      AWS_ENDPOINT_URL: 'http://all:1',
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'TRUE',
    };
    expect(resolveEndpoint('kinesis', e)).toBeUndefined();
    expect(resolveEndpoint('kinesis', { ...e, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'false' })?.url).toBe(
      'http://all:1',
    );
  });

  it("then the profile's services section, then its endpoint_url (the SDK's order)", () => {
    const svc = resolveAwsSettings({ profile: 'svc' }, env());
    expect(svc.endpoints).toMatchObject({
      kinesis: 'http://kinesis.test:2',
      'cloudwatch-logs': 'http://logs.test:3',
      s3: 'http://global.test:1',
      sts: 'http://global.test:1',
    });
    // The environment still comes first.
    expect(
      resolveAwsSettings({ profile: 'svc' }, env({ AWS_ENDPOINT_URL: 'http://env.test:4' })).endpoints,
    ).toMatchObject({
      kinesis: 'http://env.test:4',
      s3: 'http://env.test:4',
    });
    expect(resolveAwsSettings({}, env({ AWS_PROFILE: 'local' })).endpoints.eventbridge).toBe(
      'http://localhost:4566',
    );
    expect(resolveEndpoint('s3', env({ AWS_PROFILE: 'local' }))?.source).toMatch(
      /^profile "local" in .*config$/,
    );
  });

  it('ignore_configured_endpoint_urls in the profile, unless the environment says otherwise', () => {
    expect(resolveAwsSettings({ profile: 'quiet' }, env()).endpoints).toEqual({});
    expect(
      resolveAwsSettings({ profile: 'quiet' }, env({ AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'false' }))
        .endpoints.s3,
    ).toBe('http://never.test:9');
  });

  it('a malformed endpoint_url in the profile is one usage line naming the profile and file', () => {
    const e = usage(() => resolveAwsSettings({ profile: 'badurl' }, env()));
    expect(e.message).toMatch(
      /^profile "badurl" in .*\.aws\/config has endpoint_url "localhost:4566", which is not an endpoint URL$/,
    );
  });

  it.each([
    ['AWS_ENDPOINT_URL', 'localhost:4566'],
    ['AWS_ENDPOINT_URL_S3', 'ftp://files.example'],
    ['AWS_ENDPOINT_URL_KINESIS', 'not a url'],
  ])('%s=%s is one usage line naming the variable', (variable, url) => {
    const e = usage(() => resolveAwsSettings({}, { [variable]: url, HOME: '/nonexistent' }));
    expect(e.message).toBe(`${variable} "${url}" is not an endpoint URL`);
    expect(e.hint).toMatch(new RegExp(`unset ${variable}`));
  });
});
