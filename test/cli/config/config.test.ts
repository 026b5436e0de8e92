/**
 * The configuration as commands see it: `paypipe config` through the built bin, the errors a user
 * gets for a bad file (one line, exit 2), and proof that the stack commands, the data commands,
 * doctor and the local pipeline all resolve the same object from the same file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListShardsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runBinHermetic } from '../../helpers/cli.js';
import { loadConfig } from '../../../src/cli/configuration.js';
import { environmentOf } from '../../../src/cli/doctor/gather-aws.js';
import { Io } from '../../../src/cli/io.js';
import { runUp } from '../../../src/cli/local/up.js';
import { infraTarget } from '../../../src/cli/stack/target.js';
import { resolveTarget } from '../../../src/cli/target.js';
import { STACK_OUTPUT_KEYS } from '../../../src/infra/output-keys.js';
import { ensureBuilt, repoRoot } from '../../helpers/build.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const FILE = {
  defaults: { project: 'acme', tags: { Team: 'payments' }, batchSize: 250 },
  environments: {
    dev: { windowSeconds: 120, shardCount: 3 },
    prod: { region: 'eu-west-1', retentionHours: 336, kms: true },
  },
};

let dir: string;
let file: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'paypipe-config-'));
  file = join(dir, 'paypipe.config.json');
  writeFileSync(file, JSON.stringify(FILE, null, 2));
}, 60_000);

function paypipe(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return runBinHermetic(join(repoRoot, 'bin', 'paypipe.js'), args, {
    cwd: opts.cwd ?? dir,
    home: dir,
    ...(opts.env === undefined ? {} : { env: opts.env }),
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

type ConfigJson = {
  stackName: string;
  region: string;
  file: string | null;
  settings: Record<string, { value: unknown; from: string }>;
  notes: string[];
};

describe('paypipe config', () => {
  it('prints every setting with where it comes from (--json)', async () => {
    const r = await paypipe(['config', '--env', 'prod', '--json'], { env: { AWS_REGION: 'us-east-1' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as ConfigJson;
    expect(doc.stackName).toBe('acme-prod');
    expect(doc.file).toBe('paypipe.config.json');
    const from = Object.fromEntries(Object.entries(doc.settings).map(([k, v]) => [k, [v.value, v.from]]));
    expect(from).toMatchObject({
      // The file's section beats AWS_REGION: prod must not move with someone's shell.
      region: ['eu-west-1', 'paypipe.config.json environments.prod'],
      retentionHours: [336, 'paypipe.config.json environments.prod'],
      project: ['acme', 'paypipe.config.json defaults'],
      batchSize: [250, 'paypipe.config.json defaults'],
      tags: [{ Team: 'payments' }, 'paypipe.config.json defaults'],
      windowSeconds: [60, 'default'],
      retryAttempts: [-1, 'default'],
      terminationProtection: [true, 'default'],
    });
  });

  it('a flag beats the file, and AWS_REGION applies when the file has no region', async () => {
    const r = await paypipe(['config', '--json', '--region', 'us-west-2'], {
      env: { AWS_REGION: 'us-east-1' },
    });
    const doc = JSON.parse(r.stdout) as ConfigJson;
    expect(doc.settings.region).toMatchObject({ value: 'us-west-2', from: 'flag --region' });
    const r2 = await paypipe(['config', '--json'], { env: { AWS_REGION: 'us-east-1' } });
    const doc2 = JSON.parse(r2.stdout) as ConfigJson;
    expect(doc2.settings.region).toMatchObject({
      value: 'us-east-1',
      from: 'environment variable AWS_REGION',
    });
    expect(doc2.settings.removalPolicy).toMatchObject({ value: 'destroy', from: 'default for dev' });
  });

  it('the human table lists every setting on its own line, and notes risky choices', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'paypipe-config-notes-')), 'x.json');
    writeFileSync(
      other,
      JSON.stringify({ environments: { prod: { maxRecordAgeSeconds: 3600, retryAttempts: 5 } } }),
    );
    const r = await paypipe(['config', '--env', 'prod', '--config', other], { env: { NO_COLOR: '1' } });
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`paypipe-prod (environment prod, ap-southeast-2) — from ${other}`);
    expect(out.find((l) => l.trim().startsWith('maxRecordAgeSeconds'))).toMatch(
      new RegExp(`maxRecordAgeSeconds +3600 s +${other.replaceAll('.', '\\.')} environments\\.prod$`),
    );
    expect(r.stdout).toContain(
      'note: maxRecordAgeSeconds (3600) is shorter than the stream retention (168 h)',
    );
    expect(r.stdout).toContain('note: retryAttempts is 5');
  });

  it('--schema prints the JSON Schema', async () => {
    const r = await paypipe(['config', '--schema']);
    expect(JSON.parse(r.stdout)).toMatchObject({ title: 'paypipe configuration (paypipe.config.json)' });
  });
});

describe('a bad configuration: one line, exit 2, naming the file, the key, the value and what is allowed', () => {
  const bad = (content: string): string => {
    const d = mkdtempSync(join(tmpdir(), 'paypipe-badcfg-'));
    writeFileSync(join(d, 'paypipe.config.json'), content);
    return d;
  };

  for (const [content, args, expected] of [
    [
      '{"environments": {"prod": {"retentionHours": 12}}}',
      ['config', '--env', 'prod'],
      'paypipe: paypipe.config.json environments.prod.retentionHours must be a whole number from 24 to 8760, got 12',
    ],
    [
      '{"defaults": {"shards": 4}}',
      ['synth'],
      'paypipe: paypipe.config.json defaults has an unknown setting "shards" (did you mean "shardCount"?) (settings are listed by `paypipe config` and in docs/infra.md)',
    ],
    [
      '{"environments": {"prod": {}}}',
      ['deploy', '--env', 'prdo'],
      'paypipe: environment "prdo" has no section in paypipe.config.json (it has prod) (add "environments": { "prdo": {} } to paypipe.config.json to use the defaults for it)',
    ],
    [
      '{"environments": {"prod": {"glacierAfterDays": 40}}}',
      ['config', '--env', 'prod'],
      'paypipe: paypipe.config.json environments.prod: glacierAfterDays (40) must be at least infrequentAccessAfterDays (30) + 30, or null',
    ],
    [
      '{"defaults": {"kms": true,}}',
      ['send', '--count', '1'],
      'paypipe: paypipe.config.json is not valid JSON at line 1, column 27: a trailing comma before } (JSON has no comments or trailing commas; use "$comment" for notes)',
    ],
  ] as const) {
    it(`${args.join(' ')} with ${content}`, async () => {
      const r = await paypipe([...args], { cwd: bad(content) });
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([expected]);
      expect(r.code).toBe(2);
    }, 60_000);
  }

  it('--config naming a file that does not exist', async () => {
    const r = await paypipe(['config', '--config', 'nowhere.json']);
    expect(lines(r.stderr)).toEqual([
      'paypipe: config file nowhere.json does not exist (pass an existing file to --config (or PAYPIPE_CONFIG), or create paypipe.config.json)',
    ]);
    expect(r.code).toBe(2);
  });

  it('a bad AWS_REGION is named as such', async () => {
    const r = await paypipe(['config'], { cwd: tmpdir(), env: { AWS_REGION: 'moon-1' } });
    expect(lines(r.stderr)).toEqual([
      'paypipe: AWS_REGION "moon-1" is not an AWS region name (set AWS_REGION to a region like ap-southeast-2, or unset it)',
    ]);
    expect(r.code).toBe(2);
  });
});

describe('every command resolves the same configuration from the file', () => {
  it('stack commands: the stack name, region and settings come from the file (destroy asks for acme-prod)', async () => {
    const t = infraTarget({ env: 'prod' }, { PAYPIPE_CONFIG: file });
    expect([t.stackName, t.region, t.config.streams.input.retentionHours]).toEqual([
      'acme-prod',
      'eu-west-1',
      336,
    ]);
    // Through the bin: --project's default is not a flag the user gave, so the file's project holds.
    const r = await paypipe(['destroy', '--env', 'prod']);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(/^paypipe: destroy of acme-prod needs confirmation/),
    ]);
    const typed = await paypipe(['destroy', '--env', 'prod', '--project', 'other']);
    expect(typed.stderr).toMatch(/^paypipe: destroy of other-prod needs confirmation/);
  }, 60_000);

  it('doctor: region from the file, and said so', () => {
    const d = environmentOf({ env: 'prod' }, { PAYPIPE_CONFIG: file, AWS_REGION: 'us-east-1' });
    const r = 'region' in d.region ? d.region : { region: undefined, source: undefined };
    expect([r.region, r.source, d.config.stackName]).toEqual([
      'eu-west-1',
      `${file} environments.prod`,
      'acme-prod',
    ]);
    // Without a region in the file's section, the shell's AWS_REGION applies, and is named.
    const dev = environmentOf({ env: 'dev' }, { PAYPIPE_CONFIG: file, AWS_REGION: 'us-east-1' });
    expect(dev.region).toEqual({ region: 'us-east-1', source: 'AWS_REGION' });
  });

  describe('data commands on AWS', () => {
    const cfn = mockClient(CloudFormationClient);
    afterEach(() => cfn.reset());
    beforeAll(() => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example');
      vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    });
    afterAll(() => {
      vi.unstubAllEnvs();
      cfn.restore();
    });

    it('read the stack the file names, in the region the file names', async () => {
      cfn.on(DescribeStacksCommand, { StackName: 'acme-prod' }).resolves({
        Stacks: [
          {
            StackName: 'acme-prod',
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(),
            Outputs: STACK_OUTPUT_KEYS.map((k) => ({ OutputKey: k, OutputValue: `${k}-v` })),
          },
        ],
      });
      const t = await resolveTarget(
        { env: 'prod' },
        {
          env: {
            PAYPIPE_CONFIG: file,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
            AWS_SECRET_ACCESS_KEY: 'example',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
        },
      );
      expect(t.kind).toBe('aws');
      expect([t.region, t.config.stackName, t.config.aggregator.batchSize]).toEqual([
        'eu-west-1',
        'acme-prod',
        250,
      ]);
      expect(t.names.inputStream).toBe('InputStreamName-v');
      expect(await cfn.call(0).thisValue.config.region()).toBe('eu-west-1');
    });
  });

  it('the local pipeline: `up` runs the file’s dev settings, and --local commands resolve them again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-config-up-'));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    let stop: (why: string) => void = () => {};
    const until = new Promise<string>((r) => {
      stop = r;
    });
    vi.stubEnv('PAYPIPE_CONFIG', file);
    let ran: Promise<unknown> = Promise.resolve();
    try {
      const ready = new Promise<void>((res, rej) => {
        ran = runUp(
          {
            dataDir,
            schedule: false,
            until,
            onReady: () => res(),
          },
          new Io({ stdout: sink, stderr: sink, env: {} }),
        ).catch(rej);
      });
      await ready;
      const t = await resolveTarget({ local: true, dataDir });
      expect([
        t.config.aggregator.windowSeconds,
        t.config.streams.input.shardCount,
        t.config.project,
      ]).toEqual([120, 3, 'acme']);
      expect(t.config).toEqual(loadConfig({ envVars: { PAYPIPE_CONFIG: file } }).config);
      // The stream the local servers were given has the file's shard count.
      const { kinesisClient } = await import('../../../src/aws/clients.js');
      const k = await kinesisClient(t.clientTarget);
      const shards = await k.send(new ListShardsCommand({ StreamName: t.names.inputStream }));
      k.destroy();
      expect(shards.Shards).toHaveLength(3);
    } finally {
      vi.unstubAllEnvs();
      stop('test done');
      // Until `up` has stopped (servers down, lock released), not one tick that hopes it has.
      await ran.catch(() => {});
    }
  }, 120_000);
});
