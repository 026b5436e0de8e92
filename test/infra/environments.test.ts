/**
 * `paypipe synth --env dev` and `--env prod`, through the built CLI, from a directory whose
 * paypipe.config.json gives the two environments different sections: the two templates differ
 * exactly where the resolved settings differ — every difference is explained by a setting whose
 * value differs, and every setting that differs shows in the templates. The prod template is then
 * checked for what production needs: the customer-managed key and its least-privilege policy,
 * Firehose roles with exactly the actions Firehose uses, a lifecycle that does something, bucket
 * policies retained with their buckets, termination protection, no-loss event source mapping.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBinHermetic } from '../helpers/cli.js';
import { loadConfig } from '../../src/cli/configuration.js';
import { SETTING_KEYS, type SettingKey } from '../../src/pipeline/config.js';
import { KEY_ADMIN_ACTIONS } from '../../src/infra/pipeline-stack.js';
import { ensureBuilt, repoRoot } from '../helpers/build.js';

type Resource = {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  [k: string]: unknown;
};
interface Template {
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Value: unknown }>;
  [k: string]: unknown;
}

const FILE = {
  $schema: './paypipe.config.schema.json',
  defaults: { tags: { CostCentre: 'payments' }, batchSize: 200 },
  environments: {
    dev: { shardCount: 1 },
    prod: {
      region: 'eu-west-1',
      capacityMode: 'ON_DEMAND',
      retentionHours: 336,
      expirationDays: 2555,
      bufferIntervalSeconds: 300,
    },
  },
};

let cwd: string;
const templates: Record<'dev' | 'prod', Template> = {} as never;
const manifests: Record<
  'dev' | 'prod',
  { artifacts: Record<string, { properties?: Record<string, unknown> }> }
> = {} as never;

function synth(
  env: 'dev' | 'prod',
  out: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runBinHermetic(
    join(repoRoot, 'bin', 'paypipe.js'),
    ['synth', '--env', env, '--out', out, '--json'],
    {
      cwd,
      // CDK's own template validation is covered by validation.test.ts; cdk-nag still runs.
      env: { CDK_VALIDATION: 'false' },
    },
  );
}

beforeAll(async () => {
  ensureBuilt();
  cwd = mkdtempSync(join(tmpdir(), 'paypipe-envs-'));
  writeFileSync(join(cwd, 'paypipe.config.json'), JSON.stringify(FILE, null, 2));
  for (const env of ['dev', 'prod'] as const) {
    const out = join(cwd, `cdk.out.${env}`);
    const r = await synth(env, out);
    expect(r.stderr, r.stderr).not.toMatch(/Error|at .*\.js:\d+/);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { templatePath: string; stackName: string };
    expect(doc.stackName).toBe(`paypipe-${env}`);
    templates[env] = JSON.parse(readFileSync(doc.templatePath, 'utf8')) as Template;
    manifests[env] = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  }
}, 300_000);

// ------------------------------------------------------------------ template difference

interface Difference {
  path: string[];
  dev: unknown;
  prod: unknown;
}

/** Leaf differences between two JSON values (a value missing on one side is a difference). */
function differences(a: unknown, b: unknown, path: string[] = []): Difference[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((x, i) => differences(x, b[i], [...path, String(i)]));
  }
  if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => differences(a[k], b[k], [...path, k]));
  }
  return [{ path, dev: a, prod: b }];
}

/**
 * Logical ids CDK derives from construct paths that include the stack's name
 * (`…paypipeprodInputStream…<hash>`): prod's id → dev's id of the same construct.
 */
function idMap(): Map<string, string> {
  const strip = (id: string): string =>
    id.replace(/paypipe(dev|prod)/, 'paypipe').replace(/[0-9A-F]{16}$/, '');
  const dev = new Map(
    Object.keys(templates.dev.Resources)
      .filter((id) => id.includes('paypipedev'))
      .map((id) => [strip(id), id]),
  );
  return new Map(
    Object.keys(templates.prod.Resources)
      .filter((id) => id.includes('paypipeprod'))
      .map((id) => [id, dev.get(strip(id)) ?? id]),
  );
}

/** The environment's name is identity, not a setting: prod's names are compared as dev's. */
function asDev(v: unknown, ids: Map<string, string> = idMap()): unknown {
  if (typeof v === 'string') {
    if (v === 'prod') return 'dev';
    const id = ids.get(v);
    if (id !== undefined) return id;
    let out = v;
    // Construct ids made from a unique id (`KinesisEventSource:paypipeprodInputStream1DB5E504`).
    for (const [p, d] of ids) {
      const inner = (x: string) => /paypipe(?:dev|prod)[A-Za-z]+[0-9A-F]{8}/.exec(x)?.[0];
      const [pi, di] = [inner(p), inner(d)];
      if (pi !== undefined && di !== undefined) out = out.replaceAll(pi, di);
    }
    // (Alarm descriptions name the environment's command: `paypipe doctor --env prod`.)
    return (
      out
        .replaceAll('paypipe-prod', 'paypipe-dev')
        // The Glue database name is the stack name in Athena's alphabet.
        .replaceAll('paypipe_prod', 'paypipe_dev')
        .replaceAll('paypipe/prod', 'paypipe/dev')
        .replaceAll('--env prod', '--env dev')
    );
  }
  if (Array.isArray(v)) return v.map((x) => asDev(x, ids));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [asDev(k, ids) as string, asDev(x, ids)]));
  }
  return v;
}

const DATA_BUCKETS = /^(RawBucket|AnalyticsBucket)[0-9A-F]{8}$/;
const RESULTS_BUCKET = /^QueryResultsBucket[0-9A-F]{8}$/;
const STREAMS = /^(InputStream|OutputStream)[0-9A-F]{8}$/;

/**
 * Which template differences a setting may cause. A difference is explained when a setting that
 * differs between the environments claims it.
 */
const CLAIMS: Partial<Record<SettingKey, (d: Difference, t: Template) => boolean>> = {
  region: (d) => JSON.stringify([d.dev, d.prod]).includes('eu-west-1'),
  capacityMode: (d) =>
    STREAMS.test(d.path[1] ?? '') && ['StreamModeDetails', 'ShardCount'].includes(d.path[3] ?? ''),
  shardCount: (d) => /^InputStream/.test(d.path[1] ?? '') && d.path[3] === 'ShardCount',
  retentionHours: (d) => STREAMS.test(d.path[1] ?? '') && d.path[3] === 'RetentionPeriodHours',
  bufferIntervalSeconds: (d) => d.path.includes('BufferingHints') && d.path.at(-1) === 'IntervalInSeconds',
  expirationDays: (d) => DATA_BUCKETS.test(d.path[1] ?? '') && d.path.includes('LifecycleConfiguration'),
  infrequentAccessAfterDays: (d) =>
    DATA_BUCKETS.test(d.path[1] ?? '') && d.path.includes('LifecycleConfiguration'),
  glacierAfterDays: (d) => DATA_BUCKETS.test(d.path[1] ?? '') && d.path.includes('LifecycleConfiguration'),
  kms: (d, t) => {
    const id = d.path[1] ?? '';
    const type = t.Resources[id]?.Type ?? '';
    if (/^DataKey/.test(id)) return true; // the key and its alias
    if ((DATA_BUCKETS.test(id) || RESULTS_BUCKET.test(id)) && d.path[3] === 'BucketEncryption') return true;
    // Athena's query results: SSE-KMS with the data key, or SSE-S3.
    if (type === 'AWS::Athena::WorkGroup') return d.path.includes('EncryptionConfiguration');
    if (STREAMS.test(id) && d.path[3] === 'StreamEncryption') return true;
    // kms:* statements in the roles' policies, and the policies' shape around them.
    if (type === 'AWS::IAM::Policy') return JSON.stringify([d.dev, d.prod]).includes('kms:');
    return false;
  },
  removalPolicy: (d, t) => {
    const id = d.path[1] ?? '';
    const type = t.Resources[id]?.Type ?? '';
    if (/^CustomS3AutoDeleteObjects/.test(id) || /AutoDeleteObjectsCustomResource/.test(id)) return true;
    if (['DeletionPolicy', 'UpdateReplacePolicy', 'DependsOn'].includes(d.path[2] ?? '')) return true;
    if (type === 'AWS::S3::Bucket' && d.path[3] === 'Tags') return true; // aws-cdk:auto-delete-objects
    // The auto-delete provider's statement in each bucket policy.
    if (type === 'AWS::S3::BucketPolicy') return JSON.stringify([d.dev, d.prod]).includes('AutoDelete');
    if (id === 'DataKey17AFBB84') return true;
    return false;
  },
};

describe('synth --env dev and --env prod', () => {
  const dev = () => loadConfig({ env: 'dev', cwd, envVars: {} });
  const prod = () => loadConfig({ env: 'prod', cwd, envVars: {} });

  it('the resolved settings differ in exactly the keys the sections (and the built-in dev defaults) set differently', () => {
    const d = dev();
    const p = prod();
    const differing = SETTING_KEYS.filter(
      (k) => JSON.stringify(d.config.settings[k]) !== JSON.stringify(p.config.settings[k]),
    ).sort();
    // Named by a section of the file, or by the built-in dev section, with different values.
    const named = new Set<string>([
      ...Object.keys(FILE.environments.dev),
      ...Object.keys(FILE.environments.prod),
      ...SETTING_KEYS.filter((k) => d.sources[k].layer === 'builtin-environment'),
    ]);
    expect(differing).toEqual(
      [...named]
        .filter(
          (k) =>
            JSON.stringify(d.config.settings[k as SettingKey]) !==
            JSON.stringify(p.config.settings[k as SettingKey]),
        )
        .sort(),
    );
    expect(differing).toEqual(
      [
        'capacityMode',
        'expirationDays',
        'glacierAfterDays',
        'infrequentAccessAfterDays',
        'kms',
        'region',
        'removalPolicy',
        'retentionHours',
        'shardCount',
        'terminationProtection',
        'bufferIntervalSeconds',
      ].sort(),
    );
    // What both share comes from the same place, e.g. the file's defaults.
    expect(d.sources.batchSize).toEqual(p.sources.batchSize);
    expect(p.config.settings.batchSize).toBe(200);
  });

  it('every template difference is explained by a differing setting, and every differing setting shows', () => {
    const d = dev();
    const p = prod();
    const differing = SETTING_KEYS.filter(
      (k) => JSON.stringify(d.config.settings[k]) !== JSON.stringify(p.config.settings[k]),
    );
    const diffs = differences(templates.dev, asDev(templates.prod));
    expect(diffs.length).toBeGreaterThan(0);
    const union: Template = {
      ...templates.dev,
      Resources: { ...templates.dev.Resources, ...(asDev(templates.prod) as Template).Resources },
    };
    const unexplained = diffs.filter((x) => !differing.some((k) => CLAIMS[k]?.(x, union) === true));
    expect(unexplained.map((x) => x.path.join('.'))).toEqual([]);
    // Termination protection is a stack property, not template content.
    const shown = differing.filter(
      (k) => k === 'terminationProtection' || diffs.some((x) => CLAIMS[k]?.(x, union)),
    );
    expect(shown.sort()).toEqual([...differing].sort());
  });

  it('termination protection follows the environment', () => {
    expect(manifests.prod.artifacts['paypipe-prod']?.properties?.terminationProtection).toBe(true);
    expect(manifests.dev.artifacts['paypipe-dev']?.properties?.terminationProtection ?? false).toBe(false);
  });

  it('the shared settings from the file reach both templates', () => {
    for (const env of ['dev', 'prod'] as const) {
      const mapping = Object.values(templates[env].Resources).find(
        (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
      );
      expect(mapping?.Properties?.BatchSize).toBe(200);
      const bucket = Object.entries(templates[env].Resources).find(([id]) =>
        /^RawBucket[0-9A-F]{8}$/.test(id),
      );
      expect(bucket?.[1].Properties?.Tags).toEqual(
        expect.arrayContaining([{ Key: 'CostCentre', Value: 'payments' }]),
      );
    }
  });
});

// ------------------------------------------------------------------ production properties

/** A resource's property (undefined when the resource or its properties are missing). */
function prop<T>(r: Resource | undefined, k: string): T {
  const p = r === undefined ? undefined : r.Properties;
  return (p === undefined ? undefined : p[k]) as T;
}
const ofType = (t: Template, type: string): Array<[string, Resource]> =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const byPrefix = (t: Template, prefix: string): [string, Resource] => {
  const hit = Object.entries(t.Resources).find(([id]) => id.startsWith(prefix) && /[0-9A-F]{8}$/.test(id));
  if (hit === undefined) throw new Error(`no resource ${prefix}…`);
  return hit;
};
type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
};
const actions = (s: Statement): string[] => [s.Action].flat().sort();

describe('the prod stack', () => {
  it('has one customer-managed key, rotated, retained, with a policy that allows no direct use', () => {
    const keys = ofType(templates.prod, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [, key] = keys[0] as [string, Resource];
    expect(key.Properties?.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    const statements = (prop(key, 'KeyPolicy') as { Statement: Statement[] }).Statement;
    // Administration (no encrypt/decrypt), and use only via Kinesis and S3 in the stack's region.
    expect(statements.map((s) => s.Sid)).toEqual(['KeyAdministration', 'UseThroughKinesisAndS3']);
    const [admin, use] = statements as [Statement, Statement];
    expect(actions(admin)).toEqual([...KEY_ADMIN_ACTIONS].sort());
    for (const a of actions(admin)) {
      expect(a).not.toMatch(/\*|Encrypt|Decrypt|GenerateDataKey|ReEncrypt|Sign|Verify|Mac/);
    }
    expect(actions(use)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(use.Condition).toEqual({
      StringEquals: {
        'kms:CallerAccount': { Ref: 'AWS::AccountId' },
        'kms:ViaService': ['kinesis.eu-west-1.amazonaws.com', 's3.eu-west-1.amazonaws.com'],
      },
    });
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      expect(JSON.stringify(s.Principal)).toContain(':root');
    }
    const [aliasId, alias] = ofType(templates.prod, 'AWS::KMS::Alias')[0] as [string, Resource];
    expect(aliasId).toMatch(/^DataKeyAlias/);
    expect(alias.Properties?.AliasName).toBe('alias/paypipe-prod-data');
  });

  it('encrypts both data buckets (bucket keys) and both streams with it', () => {
    const [keyId] = ofType(templates.prod, 'AWS::KMS::Key')[0] as [string, Resource];
    for (const prefix of ['RawBucket', 'AnalyticsBucket']) {
      expect(byPrefix(templates.prod, prefix)[1].Properties?.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
              SSEAlgorithm: 'aws:kms',
            },
          },
        ],
      });
    }
    for (const prefix of ['InputStream', 'OutputStream']) {
      expect(byPrefix(templates.prod, prefix)[1].Properties?.StreamEncryption).toEqual({
        EncryptionType: 'KMS',
        KeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
    }
    // Server access logs support SSE-S3 only.
    expect(byPrefix(templates.prod, 'AccessLogsBucket')[1].Properties?.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it('each Firehose has its own role holding exactly the actions Firehose uses, on its own resources', () => {
    const t = templates.prod;
    const [keyId] = ofType(t, 'AWS::KMS::Key')[0] as [string, Resource];
    for (const [name, streamPrefix, bucketPrefix, prefixes] of [
      ['RawDelivery', 'InputStream', 'RawBucket', ['data/', 'errors/raw/']],
      ['AnalyticsDelivery', 'OutputStream', 'AnalyticsBucket', ['aggregations/', 'errors/aggregations/']],
    ] as const) {
      const [roleId] = byPrefix(t, `${name}Role`);
      const [, delivery] = Object.entries(t.Resources).find(
        ([id, r]) => id.startsWith(name) && r.Type === 'AWS::KinesisFirehose::DeliveryStream',
      ) as [string, Resource];
      const props = delivery.Properties as {
        KinesisStreamSourceConfiguration: { RoleARN: unknown };
        ExtendedS3DestinationConfiguration: { RoleARN: unknown };
      };
      expect(props.KinesisStreamSourceConfiguration.RoleARN).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      expect(props.ExtendedS3DestinationConfiguration.RoleARN).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      // Every policy attached to this role, whatever its name: CDK's grants must not have added one.
      const policies = ofType(t, 'AWS::IAM::Policy').filter(([, p]) =>
        JSON.stringify(p.Properties?.Roles).includes(`"${roleId}"`),
      );
      expect(policies).toHaveLength(1);
      const statements = (prop(policies[0]?.[1], 'PolicyDocument') as { Statement: Statement[] }).Statement;
      const [streamId] = byPrefix(t, streamPrefix);
      const [bucketId] = byPrefix(t, bucketPrefix);
      const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
      expect(statements.map((s) => [s.Sid, actions(s)])).toEqual([
        [
          'ReadSourceStream',
          ['kinesis:DescribeStream', 'kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards'],
        ],
        ['Bucket', ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads']],
        ['ObjectsUnderItsPrefixes', ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject']],
        ['DeliveryErrorLog', ['logs:PutLogEvents']],
        ['DataKey', ['kms:Decrypt', 'kms:GenerateDataKey']],
      ]);
      const [read, bucket, objects, log, key] = statements as Statement[];
      expect(read?.Resource).toEqual({ 'Fn::GetAtt': [streamId, 'Arn'] });
      expect(bucket?.Resource).toEqual(bucketArn);
      expect(objects?.Resource).toEqual(prefixes.map((p) => ({ 'Fn::Join': ['', [bucketArn, `/${p}*`]] })));
      expect(JSON.stringify(log?.Resource)).toContain(':log-stream:');
      expect(key?.Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(JSON.stringify(statements)).not.toMatch(/Delete|PutBucket|s3:\*|"\*"/);
      // Only Firehose, for this account, may assume it.
      const trust = t.Resources[roleId]?.Properties?.AssumeRolePolicyDocument as { Statement: Statement[] };
      expect(trust.Statement).toEqual([
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'firehose.amazonaws.com' },
          Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'AWS::AccountId' } } },
        },
      ]);
    }
    // The generated destination and service roles are gone.
    expect(Object.keys(t.Resources).filter((id) => /S3DestinationRole|ServiceRole/.test(id))).toEqual([]);
  });

  it('writers of the encrypted streams get kms:GenerateDataKey only, readers kms:Decrypt', () => {
    const t = templates.prod;
    const policyOf = (role: string): Statement[] =>
      prop<{ Statement: Statement[] }>(byPrefix(t, `${role}RoleDefaultPolicy`)[1], 'PolicyDocument')
        .Statement;
    const kmsActions = (ss: Statement[]) =>
      ss.filter((s) => actions(s).some((a) => a.startsWith('kms:'))).map(actions);
    expect(kmsActions(policyOf('Producer'))).toEqual([['kms:GenerateDataKey']]);
    expect(kmsActions(policyOf('Aggregator')).flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    for (const s of [...policyOf('Producer'), ...policyOf('Aggregator')]) {
      for (const a of actions(s)) expect(a).not.toMatch(/^kms:.*\*$|kms:Encrypt|kms:ReEncrypt/);
    }
  });

  it('lifecycle: transitions above the stated size floor, no expiry unless set, noncurrent expiry, multipart abort', () => {
    const l = loadConfig({ env: 'prod', cwd, envVars: {} }).config.lifecycle;
    expect(l.transitionMinObjectSizeBytes).toBe(128 * 1024);
    for (const prefix of ['RawBucket', 'AnalyticsBucket']) {
      const rules = (
        prop(byPrefix(templates.prod, prefix)[1], 'LifecycleConfiguration') as {
          Rules: Array<Record<string, unknown>>;
        }
      ).Rules;
      expect(rules).toEqual([
        {
          Id: 'tiering',
          Status: 'Enabled',
          ObjectSizeGreaterThan: '131072',
          Transitions: [
            { StorageClass: 'STANDARD_IA', TransitionInDays: l.infrequentAccessAfterDays },
            { StorageClass: 'GLACIER', TransitionInDays: l.glacierAfterDays },
          ],
        },
        { Id: 'expiration', Status: 'Enabled', ExpirationInDays: 2555 },
        {
          Id: 'housekeeping',
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: l.noncurrentVersionExpirationDays },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: l.abortIncompleteMultipartUploadDays },
          ExpiredObjectDeleteMarker: true,
        },
      ]);
    }
  });

  it('retains every bucket policy with its bucket (a retained bucket keeps denying plain HTTP)', () => {
    const policies = ofType(templates.prod, 'AWS::S3::BucketPolicy');
    // Access logs, raw, analytics, query results.
    expect(policies).toHaveLength(4);
    for (const [, p] of policies) {
      expect(p.DeletionPolicy).toBe('Retain');
      expect(p.UpdateReplacePolicy).toBe('Retain');
    }
    // dev deletes them with the buckets.
    for (const [, p] of ofType(templates.dev, 'AWS::S3::BucketPolicy'))
      expect(p.DeletionPolicy).toBe('Delete');
  });

  it('the aggregator mapping retries until the records leave the stream, with no age limit', () => {
    const mapping = ofType(templates.prod, 'AWS::Lambda::EventSourceMapping')[0]?.[1];
    expect(mapping?.Properties).toMatchObject({ MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1 });
    expect(byPrefix(templates.prod, 'InputStream')[1].Properties?.RetentionPeriodHours).toBe(336);
  });
});
