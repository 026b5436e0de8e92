/**
 * The Glue database, tables and Athena workgroup, asserted against the one description of the
 * tables (src/pipeline/tables.ts) and the writers' prefixes. The adversary is drift between the
 * two: a Firehose prefix (or the dead-letter key) changed without the table following, which
 * would leave a table reading nothing with no error. So each table's projection template is
 * expanded for arbitrary hours and compared with the key the WRITER makes for that hour.
 * cdk-nag and cfn-lint run in validation.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/infra/app.js';
import type { PaypipeStack } from '../../src/infra/pipeline-stack.js';
import { RESULTS_PREFIX, tableId } from '../../src/infra/query-tables.js';
import { expandPrefix } from '../../src/local/firehose.js';
import { deadLetterKey } from '../../src/lambdas/aggregator-handler.js';
import { type PipelineConfig, resolveConfig } from '../../src/pipeline/config.js';
import { queryTables, TABLE_NAMES, type TableName } from '../../src/pipeline/tables.js';

type Resource = { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] };
type Resources = Record<string, Resource>;
type Template = { Resources: Resources; Outputs?: Record<string, { Value: unknown }> };

const stub = join(import.meta.dirname, 'fixtures', 'stub-handler.ts');

function synth(config: PipelineConfig): { stack: PaypipeStack; template: Template } {
  const built = buildApp(config, {
    outdir: mkdtempSync(join(tmpdir(), 'paypipe-query-')),
    validation: false,
    entries: { producer: stub, aggregator: stub },
  });
  const template = built.app.synth().getStackArtifact(built.stack.artifactId).template as Template;
  return { stack: built.stack, template };
}

const idOf = (stack: PaypipeStack, c: { node: { defaultChild?: unknown } } | object): string =>
  stack.getLogicalId(
    ((c as { node?: { defaultChild?: unknown } }).node?.defaultChild ?? c) as Parameters<
      PaypipeStack['getLogicalId']
    >[0],
  );

/** Resolves the template's `Fn::Join` and `Ref`s of buckets to names given for them. */
function resolve(v: unknown, refs: Record<string, string>): string {
  if (typeof v === 'string') return v;
  const o = v as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (o.Ref !== undefined) {
    const name = refs[o.Ref];
    if (name === undefined) throw new Error(`unexpected Ref ${o.Ref}`);
    return name;
  }
  if (o['Fn::Join'] !== undefined)
    return o['Fn::Join'][1].map((x) => resolve(x, refs)).join(o['Fn::Join'][0]);
  throw new Error(`cannot resolve ${JSON.stringify(v)}`);
}

/** `…/year=${year}/month=${month}/…` with the hour's values, as Athena's projection fills it in. */
function fillTemplate(template: string, ms: number): string {
  const d = new Date(ms);
  const values: Record<string, string> = {
    year: String(d.getUTCFullYear()).padStart(4, '0'),
    month: String(d.getUTCMonth() + 1).padStart(2, '0'),
    day: String(d.getUTCDate()).padStart(2, '0'),
    hour: String(d.getUTCHours()).padStart(2, '0'),
  };
  return template.replace(/\$\{(\w+)\}/g, (_, k: string) => {
    const x = values[k];
    if (x === undefined) throw new Error(`unknown projection column ${k}`);
    return x;
  });
}

describe('dev: database, tables, workgroup', () => {
  const config = resolveConfig();
  const description = queryTables(config);
  let stack: PaypipeStack;
  let t: Template;
  let refs: Record<string, string>;
  const tableProps = (name: TableName): Record<string, unknown> => {
    const [, r] = Object.entries(t.Resources).find(
      ([id, x]) => x.Type === 'AWS::Glue::Table' && id.startsWith(`Query${tableId(name)}`),
    ) as [string, Resource];
    return r.Properties as Record<string, unknown>;
  };
  const input = (name: TableName) =>
    tableProps(name).TableInput as {
      Name: string;
      Parameters: Record<string, unknown>;
      PartitionKeys: Array<{ Name: string; Type: string }>;
      StorageDescriptor: {
        Location: unknown;
        Columns: Array<{ Name: string; Type: string }>;
        SerdeInfo: { SerializationLibrary: string; Parameters: Record<string, string> };
        InputFormat: string;
      };
    };

  beforeAll(() => {
    ({ stack, template: t } = synth(config));
    refs = {
      [idOf(stack, stack.rawBucket)]: 'raw-bucket',
      [idOf(stack, stack.analyticsBucket)]: 'analytics-bucket',
    };
  }, 120_000);

  it('one Glue database named from the stack, and one table per entry of tables.ts', () => {
    const dbs = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Glue::Database');
    expect(dbs).toHaveLength(1);
    expect(dbs[0]?.Properties?.DatabaseInput).toMatchObject({ Name: description.database });
    expect(description.database).toBe('paypipe_dev');
    const tables = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Glue::Table');
    expect(
      tables.map((x) => (x.Properties as { TableInput: { Name: string } }).TableInput.Name).sort(),
    ).toEqual([...TABLE_NAMES].sort());
    for (const x of tables) expect(x.Properties?.DatabaseName).toBe(description.database);
  });

  it('every column, partition key, SerDe and format is the one of tables.ts', () => {
    for (const name of TABLE_NAMES) {
      const d = description.tables[name];
      const i = input(name);
      expect(i.StorageDescriptor.Columns).toEqual(
        d.columns.map((c) => ({ Name: c.name, Type: c.type, Comment: c.comment })),
      );
      expect(i.PartitionKeys.map((c) => [c.Name, c.Type])).toEqual([
        ['year', 'string'],
        ['month', 'string'],
        ['day', 'string'],
        ['hour', 'string'],
      ]);
      expect(i.StorageDescriptor.SerdeInfo).toEqual({
        SerializationLibrary: d.serde.library,
        Parameters: { ...d.serde.parameters },
      });
      expect(i.StorageDescriptor.InputFormat).toBe(d.inputFormat);
    }
  });

  it('partition projection over year/month/day/hour: integers with fixed digits, no crawler', () => {
    for (const name of TABLE_NAMES) {
      const p = input(name).Parameters;
      expect(p).toMatchObject({
        'projection.enabled': 'true',
        'projection.year.type': 'integer',
        'projection.year.digits': '4',
        'projection.month.type': 'integer',
        'projection.month.range': '01,12',
        'projection.month.digits': '2',
        'projection.day.type': 'integer',
        'projection.day.range': '01,31',
        'projection.day.digits': '2',
        'projection.hour.type': 'integer',
        'projection.hour.range': '00,23',
        'projection.hour.digits': '2',
      });
    }
    expect(Object.values(t.Resources).some((r) => r.Type === 'AWS::Glue::Crawler')).toBe(false);
  });

  // One source: the template a table reads from is, for every hour, the prefix its writer writes to.
  it('each projection template, filled in for any hour, is the prefix the writer uses for that hour', () => {
    const writers: Record<TableName, { bucket: string; prefixAt: (ms: number) => string }> = {
      raw_events: { bucket: 'raw-bucket', prefixAt: (ms) => expandPrefix(config.firehose.raw.prefix, ms) },
      raw_lines: { bucket: 'raw-bucket', prefixAt: (ms) => expandPrefix(config.firehose.raw.prefix, ms) },
      batch_outputs: {
        bucket: 'analytics-bucket',
        prefixAt: (ms) => expandPrefix(config.firehose.analytics.prefix, ms),
      },
      dead_letters: {
        bucket: 'analytics-bucket',
        // The aggregator's own key for a dead-letter object, cut at the last "/".
        prefixAt: (ms) => {
          const key = deadLetterKey(config.aggregator.deadLetterPrefix, 'shardId-000000000000', '1', ms);
          return key.slice(0, key.lastIndexOf('/') + 1);
        },
      },
    };
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2024-01-01T00:00:00Z'),
          max: new Date('2099-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (date) => {
          const ms = date.getTime();
          for (const name of TABLE_NAMES) {
            const i = input(name);
            const template = resolve(i.Parameters['storage.location.template'], refs);
            const w = writers[name];
            expect(fillTemplate(template, ms)).toBe(`s3://${w.bucket}/${w.prefixAt(ms)}`);
            // The location is the template's static part: everything under it, nothing beside it.
            const location = resolve(i.StorageDescriptor.Location, refs);
            expect(template.startsWith(location)).toBe(true);
            expect(location).toBe(
              `s3://${w.bucket}/${template.slice(`s3://${w.bucket}/`.length, template.indexOf('year='))}`,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("no table's location holds a Firehose error prefix", () => {
    for (const name of TABLE_NAMES) {
      const location = resolve(input(name).StorageDescriptor.Location, refs).replace(/^s3:\/\/[^/]+\//, '');
      for (const d of [config.firehose.raw, config.firehose.analytics]) {
        const errorStatic = d.errorPrefix.slice(0, d.errorPrefix.indexOf('!{'));
        expect(errorStatic.startsWith(location)).toBe(false);
      }
    }
  });

  it('the workgroup enforces its settings, the scan limit from the configuration and encrypted results', () => {
    const wgs = Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::Athena::WorkGroup');
    expect(wgs).toHaveLength(1);
    const results = idOf(stack, stack.query?.resultsBucket as object);
    expect(wgs[0]?.[1].Properties).toMatchObject({
      Name: config.query.workGroupName,
      State: 'ENABLED',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: config.settings.queryBytesScannedCutoff,
        PublishCloudWatchMetricsEnabled: true,
        ResultConfiguration: {
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: results }, `/${RESULTS_PREFIX}`]] },
        },
      },
    });
    expect(config.settings.queryBytesScannedCutoff).toBe(10 * 1024 ** 3);
  });

  it('the results bucket is private, TLS only, encrypted, logged, and expires results', () => {
    const results = idOf(stack, stack.query?.resultsBucket as object);
    const props = t.Resources[results]?.Properties as Record<string, unknown>;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(props.LoggingConfiguration).toMatchObject({ LogFilePrefix: 'query-results/' });
    expect(props.LifecycleConfiguration).toMatchObject({
      Rules: [{ ExpirationInDays: config.query.resultsExpirationDays, Status: 'Enabled' }],
    });
    const policy = Object.values(t.Resources).find(
      (r) =>
        r.Type === 'AWS::S3::BucketPolicy' &&
        (r.Properties as { Bucket: { Ref?: string } }).Bucket.Ref === results,
    );
    expect(JSON.stringify(policy?.Properties?.PolicyDocument)).toContain('aws:SecureTransport');
  });

  it('outputs the database and workgroup names', () => {
    const db = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::Glue::Database')?.[0];
    const wg = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::Athena::WorkGroup')?.[0];
    expect(t.Outputs?.GlueDatabaseName?.Value).toEqual({ Ref: db });
    expect(t.Outputs?.AthenaWorkGroupName?.Value).toEqual({ Ref: wg });
  });
});

describe('prod (customer-managed key) and the settings', () => {
  it('results are encrypted with the data key; the scan limit and the switch come from the configuration', () => {
    const config = resolveConfig({ environment: 'prod', queryBytesScannedCutoff: 50_000_000 });
    const { stack, template } = synth(config);
    const key = idOf(stack, stack.dataKey as object);
    const wg = Object.values(template.Resources).find((r) => r.Type === 'AWS::Athena::WorkGroup');
    expect(wg?.Properties?.WorkGroupConfiguration).toMatchObject({
      BytesScannedCutoffPerQuery: 50_000_000,
      ResultConfiguration: {
        EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: { 'Fn::GetAtt': [key, 'Arn'] } },
      },
    });
    const results = template.Resources[idOf(stack, stack.query?.resultsBucket as object)];
    expect(JSON.stringify(results?.Properties?.BucketEncryption)).toContain(key);
    expect(results).toMatchObject({ DeletionPolicy: 'Retain' });
  });

  it('queryTables: false leaves the database, tables, workgroup, results bucket and their outputs out', () => {
    const { stack, template } = synth(resolveConfig({ queryTables: false }));
    expect(stack.query).toBeUndefined();
    const types = new Set(Object.values(template.Resources).map((r) => r.Type));
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      expect(types.has(type)).toBe(false);
    }
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::S3::Bucket')).toHaveLength(3);
    expect(Object.keys(template.Outputs ?? {})).not.toContain('GlueDatabaseName');
    expect(Object.keys(template.Outputs ?? {})).not.toContain('AthenaWorkGroupName');
  });
});
