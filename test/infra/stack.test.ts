/**
 * Properties of the synthesized paypipe stack, asserted against the values of the one pipeline
 * config (never restated literals), plus a scan of every IAM statement for wildcard actions.
 * One synth of the real app (with the real Lambda bundles) is shared by all tests; CDK's template
 * validation and cdk-nag run in validation.test.ts instead.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_ENV, type PipelineConfig, resolveConfig } from '../../src/pipeline/config.js';
import { buildApp } from '../../src/infra/app.js';
import { STACK_OUTPUT_KEYS } from '../../src/infra/output-keys.js';
import type { PaypipeStack } from '../../src/infra/pipeline-stack.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>;

const config = resolveConfig();
let template: Template;
let resources: Resources;
let stack: PaypipeStack;
let outdir: string;

const stub = join(import.meta.dirname, 'fixtures', 'stub-handler.ts');

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'paypipe-infra-'));
  const built = buildApp(config, { outdir, validation: false });
  stack = built.stack;
  const assembly = built.app.synth();
  const json = assembly.getStackArtifact(stack.artifactId).template as { Resources: Resources };
  template = Template.fromJSON(json);
  resources = json.Resources;
}, 120_000);

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as Parameters<PaypipeStack['getLogicalId']>[0]);
const ofType = (type: string): Array<[string, Resources[string]]> =>
  Object.entries(resources).filter(([, r]) => r.Type === type);

describe('buckets', () => {
  it('raw and analytics buckets are versioned, encrypted, private, logged, with the lifecycle of the config', () => {
    const logs = logicalId(stack.accessLogsBucket);
    // dev: AWS-managed encryption, data deleted after 30 days, no storage-class transitions.
    expect(config.encryption.customerManagedKey).toBe(false);
    expect(config.lifecycle).toMatchObject({
      expirationDays: 30,
      infrequentAccessAfterDays: null,
      glacierAfterDays: null,
    });
    for (const b of [stack.rawBucket, stack.analyticsBucket]) {
      const props = resources[logicalId(b)]?.Properties as Record<string, unknown>;
      expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(props.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(props.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(props.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: logs } });
      const rules = (props.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }).Rules;
      expect(rules).toEqual([
        { Id: 'expiration', Status: 'Enabled', ExpirationInDays: config.lifecycle.expirationDays },
        {
          Id: 'housekeeping',
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: config.lifecycle.noncurrentVersionExpirationDays },
          AbortIncompleteMultipartUpload: {
            DaysAfterInitiation: config.lifecycle.abortIncompleteMultipartUploadDays,
          },
          ExpiredObjectDeleteMarker: true,
        },
      ]);
    }
  });

  it('every bucket (access logs too) denies requests without TLS and is encrypted and private', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets.map(([id]) => id).sort()).toEqual(
      [stack.rawBucket, stack.analyticsBucket, stack.accessLogsBucket, stack.query?.resultsBucket]
        .map((b) => logicalId(b as NonNullable<typeof b>))
        .sort(),
    );
    for (const [id, b] of buckets) {
      expect(b.Properties?.BucketEncryption).toBeDefined();
      expect(b.Properties?.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicPolicy: true });
      const policy = ofType('AWS::S3::BucketPolicy').find(([, p]) => {
        return JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id });
      });
      expect(policy, `bucket policy of ${id}`).toBeDefined();
      const doc = policy?.[1].Properties?.PolicyDocument as { Statement: Array<Record<string, unknown>> };
      const statements = doc.Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('dev (removal policy destroy) deletes buckets with their objects', () => {
    expect(config.removalPolicy).toBe('destroy');
    for (const b of [
      stack.rawBucket,
      stack.analyticsBucket,
      stack.accessLogsBucket,
      stack.query?.resultsBucket,
    ]) {
      expect(resources[logicalId(b as NonNullable<typeof b>)]?.DeletionPolicy).toBe('Delete');
    }
    expect(ofType('Custom::S3AutoDeleteObjects')).toHaveLength(4);
  });
});

describe('streams', () => {
  it('input and output streams take names, mode, shards and retention from the config, KMS-encrypted', () => {
    for (const [s, settings] of [
      [stack.inputStream, config.streams.input],
      [stack.outputStream, config.streams.output],
    ] as const) {
      expect(resources[logicalId(s)]?.Properties).toMatchObject({
        Name: settings.name,
        ShardCount: settings.shardCount,
        RetentionPeriodHours: settings.retentionHours,
        StreamModeDetails: { StreamMode: settings.capacityMode },
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      });
    }
  });
});

describe('firehose', () => {
  it('raw delivery: input stream → raw bucket with the data/ Hive prefix, error prefix and buffering', () => {
    const raw = config.firehose.raw;
    expect(resources[logicalId(stack.rawDelivery)]?.Properties).toMatchObject({
      DeliveryStreamName: raw.name,
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: {
        KinesisStreamARN: { 'Fn::GetAtt': [logicalId(stack.inputStream), 'Arn'] },
      },
      ExtendedS3DestinationConfiguration: {
        BucketARN: { 'Fn::GetAtt': [logicalId(stack.rawBucket), 'Arn'] },
        Prefix: raw.prefix,
        ErrorOutputPrefix: raw.errorPrefix,
        CompressionFormat: raw.compression,
        FileExtension: raw.fileExtension,
        BufferingHints: { IntervalInSeconds: raw.bufferIntervalSeconds, SizeInMBs: raw.bufferSizeMiB },
        CloudWatchLoggingOptions: { Enabled: true },
        // Firehose's own delimiter processing, no Lambda: a newline after every record.
        ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'AppendDelimiterToRecord' }] },
      },
    });
    expect(raw.prefix).toMatch(/^data\/year=!\{timestamp:yyyy\}\/month=/);
    // Adversary: the old archive (uncompressed, records run together, no extension) that no
    // JSON SerDe or JSON-lines reader can split.
    expect(raw).toMatchObject({ compression: 'GZIP', fileExtension: '.json.gz', appendNewline: true });
  });

  it('error output goes outside the data prefixes, so a table over data/ or aggregations/ never reads it', () => {
    for (const d of [config.firehose.raw, config.firehose.analytics]) {
      const data = d.prefix.slice(0, d.prefix.indexOf('year='));
      expect(d.errorPrefix.startsWith(data)).toBe(false);
      expect(data.startsWith(d.errorPrefix.slice(0, d.errorPrefix.indexOf('!{')))).toBe(false);
    }
  });

  it('analytics delivery: output stream → analytics bucket under aggregations/, GZIP', () => {
    const a = config.firehose.analytics;
    expect(a.compression).toBe('GZIP');
    expect(resources[logicalId(stack.analyticsDelivery)]?.Properties).toMatchObject({
      DeliveryStreamName: a.name,
      KinesisStreamSourceConfiguration: {
        KinesisStreamARN: { 'Fn::GetAtt': [logicalId(stack.outputStream), 'Arn'] },
      },
      ExtendedS3DestinationConfiguration: {
        BucketARN: { 'Fn::GetAtt': [logicalId(stack.analyticsBucket), 'Arn'] },
        Prefix: a.prefix,
        ErrorOutputPrefix: a.errorPrefix,
        CompressionFormat: 'GZIP',
        FileExtension: '.json.gz',
        BufferingHints: { IntervalInSeconds: a.bufferIntervalSeconds, SizeInMBs: a.bufferSizeMiB },
      },
    });
    // Batch outputs end with a newline already: no processor, or every record would be followed
    // by an empty line.
    const props = resources[logicalId(stack.analyticsDelivery)]?.Properties as Record<string, unknown>;
    const dest = props.ExtendedS3DestinationConfiguration as Record<string, unknown>;
    expect(dest.ProcessingConfiguration).toBeUndefined();
    expect(a.prefix.startsWith('aggregations/year=!{timestamp:yyyy}/')).toBe(true);
  });
});

describe('lambdas', () => {
  it('producer: Node 22, ESM bundle, its env names from LAMBDA_ENV, explicit log group with retention', () => {
    const props = resources[logicalId(stack.producer)]?.Properties as Record<string, unknown>;
    expect(props).toMatchObject({
      FunctionName: config.producer.functionName,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: config.producer.memoryMiB,
      Timeout: config.producer.timeoutSeconds,
      Environment: {
        Variables: {
          [LAMBDA_ENV.inputStream]: { Ref: logicalId(stack.inputStream) },
          [LAMBDA_ENV.eventsPerInvocation]: String(config.producer.eventsPerInvocation),
        },
      },
      LoggingConfig: {
        LogGroup: {
          Ref: stack.getLogicalId(
            stack.node.findChild('ProducerLogs').node.defaultChild as Parameters<
              PaypipeStack['getLogicalId']
            >[0],
          ),
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/lambda/${config.producer.functionName}`,
      RetentionInDays: Match.anyValue(),
    });
    // No async retries of a partly-sent producer run.
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.producer) },
      MaximumRetryAttempts: 0,
    });
  });

  it('aggregator: every environment variable the handler reads, from the config', () => {
    const agg = config.aggregator;
    expect(resources[logicalId(stack.aggregator)]?.Properties).toMatchObject({
      FunctionName: agg.functionName,
      Runtime: 'nodejs22.x',
      MemorySize: agg.memoryMiB,
      Timeout: agg.timeoutSeconds,
      Environment: {
        Variables: {
          [LAMBDA_ENV.outputStream]: { Ref: logicalId(stack.outputStream) },
          [LAMBDA_ENV.deadLetterBucket]: { Ref: logicalId(stack.analyticsBucket) },
          [LAMBDA_ENV.deadLetterPrefix]: agg.deadLetterPrefix,
          [LAMBDA_ENV.windowSeconds]: String(agg.windowSeconds),
          [LAMBDA_ENV.maxFutureSkewMs]: String(agg.maxFutureSkewMs),
        },
      },
    });
  });

  it('the aggregator reads the input stream with every event source mapping setting from the config', () => {
    const agg = config.aggregator;
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.[1].Properties).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.inputStream), 'Arn'] },
      FunctionName: { Ref: logicalId(stack.aggregator) },
      StartingPosition: agg.startingPosition,
      BatchSize: agg.batchSize,
      MaximumBatchingWindowInSeconds: agg.maxBatchingWindowSeconds,
      BisectBatchOnFunctionError: agg.bisectBatchOnError,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: agg.retryAttempts,
      MaximumRecordAgeInSeconds: agg.maxRecordAgeSeconds,
      ParallelizationFactor: agg.parallelizationFactor,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.failureQueue), 'Arn'] } },
      },
      Tags: expect.any(Array),
    });
    // No silent loss: retried until the records leave the stream, whatever their age.
    expect([agg.retryAttempts, agg.maxRecordAgeSeconds]).toEqual([-1, -1]);
  });

  it('the failure queue is encrypted and refuses non-TLS requests', () => {
    expect(resources[logicalId(stack.failureQueue)]?.Properties).toMatchObject({
      QueueName: config.failureQueueName,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('the schedule invokes the producer on the configured expression', () => {
    expect(resources[logicalId(stack.schedule)]?.Properties).toMatchObject({
      ScheduleExpression: config.producer.schedule,
      State: 'ENABLED',
      Targets: [expect.objectContaining({ Arn: { 'Fn::GetAtt': [logicalId(stack.producer), 'Arn'] } })],
    });
    expect(config.producer.schedule).toBe('rate(1 minute)');
  });

  it('both bundles are ESM and load in Node with the environment the stack sets', () => {
    for (const [fn, env] of [
      [
        stack.producer,
        {
          [LAMBDA_ENV.inputStream]: 's',
          [LAMBDA_ENV.eventsPerInvocation]: '5',
          [LAMBDA_ENV.environment]: 'paypipe-dev',
        },
      ],
      [
        stack.aggregator,
        {
          [LAMBDA_ENV.outputStream]: 's',
          [LAMBDA_ENV.deadLetterBucket]: 'b',
          [LAMBDA_ENV.deadLetterPrefix]: 'dead-letters/',
          [LAMBDA_ENV.windowSeconds]: '60',
          [LAMBDA_ENV.maxFutureSkewMs]: '1000',
          [LAMBDA_ENV.environment]: 'paypipe-dev',
        },
      ],
    ] as const) {
      const code = resources[logicalId(fn)]?.Properties?.Code as { S3Key: string };
      const bundle = join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      const source = readFileSync(bundle, 'utf8');
      expect(source).toContain('createRequire');
      // Importing runs the module's top level (env checks, client construction) like a cold start.
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(`file://${bundle}`)}); console.log(typeof m.handler);`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: config.region,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            ...env,
          },
          encoding: 'utf8',
        },
      );
      expect(out.trim()).toBe('function');
    }
  });
});

type Statement = { Effect: string; Action?: string | string[]; NotAction?: unknown; Condition?: unknown };

const TLS_GUARDS = [
  JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
  JSON.stringify({ NumericLessThan: { 's3:TlsVersion': 1.2 } }),
];

/** Every wildcard grant and every unexpected Deny in a template's IAM, resource and trust policies. */
function iamProblems(res: Resources): string[] {
  const problems: string[] = [];
  for (const [id, r] of Object.entries(res)) {
    const p = r.Properties ?? {};
    const docs = [
      p.PolicyDocument,
      p.AssumeRolePolicyDocument,
      ...((p.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []).map((x) => x.PolicyDocument),
    ];
    for (const d of docs) {
      if (d === undefined) continue;
      for (const s of (d as { Statement: Statement[] }).Statement) {
        if (s.NotAction !== undefined) problems.push(`${id}: NotAction`);
        const actions = [s.Action ?? []].flat();
        if (s.Effect === 'Allow') {
          for (const a of actions)
            if (a === '*' || /^[a-z0-9-]+:\*$/i.test(a)) problems.push(`${id}: allows ${a}`);
        } else if (!TLS_GUARDS.includes(JSON.stringify(s.Condition))) {
          // Denying everything over plain HTTP (or TLS < 1.2) is what enforceSSL and
          // minimumTLSVersion mean; nothing else is denied.
          problems.push(`${id}: unexpected Deny of ${actions.join(',')}`);
        }
      }
    }
  }
  return problems;
}

describe('IAM', () => {
  it('no statement allows "*" or "service:*", and every Deny is the TLS-only guard', () => {
    const policies = Object.values(resources).filter((r) => /Policy$|::Role$/.test(r.Type));
    expect(policies.length).toBeGreaterThan(10);
    expect(iamProblems(resources)).toEqual([]);
  });

  it('the scan reports wildcards and other denies when there are some', () => {
    const bad: Resources = {
      P: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyDocument: {
            Statement: [
              { Effect: 'Allow', Action: ['s3:GetObject', 'kinesis:*'] },
              { Effect: 'Allow', Action: '*' },
              { Effect: 'Deny', Action: 'sqs:SendMessage' },
            ],
          },
        },
      },
    };
    expect(iamProblems(bad)).toEqual([
      'P: allows kinesis:*',
      'P: allows *',
      'P: unexpected Deny of sqs:SendMessage',
    ]);
  });

  it('the aggregator may put objects under the dead-letter prefix only', () => {
    const role = stack.aggregator.role as unknown as {
      node: { findChild(id: string): { node: { defaultChild?: unknown } } };
    };
    const policyId = logicalId(role.node.findChild('DefaultPolicy'));
    const doc = resources[policyId]?.Properties?.PolicyDocument as { Statement: Statement[] };
    const s3 = doc.Statement.filter((s) => [s.Action].flat().some((a) => String(a).startsWith('s3:')));
    expect(s3).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: {
          'Fn::Join': [
            '',
            [
              { 'Fn::GetAtt': [logicalId(stack.analyticsBucket), 'Arn'] },
              `/${config.aggregator.deadLetterPrefix}*`,
            ],
          ],
        },
      }),
    ]);
  });

  it('Lambda roles carry no AWS managed policies (only the CDK auto-delete provider has one)', () => {
    const withManaged = ofType('AWS::IAM::Role').filter(
      ([, r]) => r.Properties?.ManagedPolicyArns !== undefined,
    );
    expect(withManaged.map(([id]) => id)).toEqual([
      expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProviderRole/),
    ]);
  });
});

describe('outputs and tags', () => {
  it('has an output for every name the CLI reads', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([...STACK_OUTPUT_KEYS].sort());
    expect(outputs.InputStreamName?.Value).toEqual({ Ref: logicalId(stack.inputStream) });
    expect(outputs.AnalyticsBucketName?.Value).toEqual({ Ref: logicalId(stack.analyticsBucket) });
    expect(outputs.FailureQueueUrl?.Value).toEqual({ Ref: logicalId(stack.failureQueue) });
    expect(outputs.Region?.Value).toBe(config.region);
    const mapping = ofType('AWS::Lambda::EventSourceMapping')[0]?.[0];
    expect(outputs.AggregatorEventSourceMappingUuid?.Value).toEqual({ Ref: mapping });
  });

  it('tags every taggable resource with the config tags', () => {
    const tags = Object.entries(config.tags).map(([Key, Value]) => ({ Key, Value }));
    for (const type of [
      'AWS::S3::Bucket',
      'AWS::Kinesis::Stream',
      'AWS::Lambda::Function',
      'AWS::SQS::Queue',
    ]) {
      // CDK's own auto-delete provider is a raw CfnResource without a tag manager.
      for (const [id, r] of ofType(type).filter(([i]) => !i.startsWith('CustomS3AutoDeleteObjects'))) {
        expect(r.Properties?.Tags, `${id}`).toEqual(expect.arrayContaining(tags));
      }
    }
  });
});

describe('a different config', () => {
  let other: PipelineConfig;
  let res: Resources;
  let otherStack: PaypipeStack;

  beforeAll(() => {
    other = resolveConfig({
      environment: 'prod',
      region: 'eu-west-1',
      capacityMode: 'ON_DEMAND',
      retentionHours: 48,
      bufferIntervalSeconds: 30,
      bufferSizeMiB: 4,
      batchSize: 100,
      retryAttempts: 2,
      schedule: 'rate(5 minutes)',
      scheduleEnabled: false,
      tags: { CostCentre: 'payments' },
    });
    // The stub entries keep this second synth cheap; only the infrastructure is inspected.
    const built = buildApp(other, {
      outdir: mkdtempSync(join(tmpdir(), 'paypipe-infra-prod-')),
      validation: false,
      entries: { producer: stub, aggregator: stub },
    });
    otherStack = built.stack;
    res = (built.app.synth().getStackArtifact(otherStack.artifactId).template as { Resources: Resources })
      .Resources;
  }, 120_000);

  const id = (c: { node: { defaultChild?: unknown } }): string =>
    otherStack.getLogicalId(c.node.defaultChild as Parameters<PaypipeStack['getLogicalId']>[0]);

  it('flows every setting through: names, region, on-demand streams, retention, buffering, batching, schedule', () => {
    expect(otherStack.stackName).toBe('paypipe-prod');
    expect(otherStack.region).toBe('eu-west-1');
    const input = res[id(otherStack.inputStream)]?.Properties;
    expect(input).toMatchObject({
      Name: 'paypipe-prod-input-stream',
      RetentionPeriodHours: 48,
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    });
    expect(input?.ShardCount).toBeUndefined();
    expect(res[id(otherStack.analyticsDelivery)]?.Properties).toMatchObject({
      ExtendedS3DestinationConfiguration: { BufferingHints: { IntervalInSeconds: 30, SizeInMBs: 4 } },
    });
    const mapping = Object.values(res).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({ BatchSize: 100, MaximumRetryAttempts: 2 });
    expect(res[id(otherStack.schedule)]?.Properties).toMatchObject({
      ScheduleExpression: 'rate(5 minutes)',
      State: 'DISABLED',
    });
    expect(res[id(otherStack.rawBucket)]?.Properties?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'CostCentre', Value: 'payments' },
        { Key: 'Environment', Value: 'prod' },
      ]),
    );
  });

  it('prod (removal policy retain) keeps buckets and their objects', () => {
    expect(other.removalPolicy).toBe('retain');
    for (const b of [otherStack.rawBucket, otherStack.analyticsBucket, otherStack.accessLogsBucket]) {
      expect(res[id(b)]?.DeletionPolicy).toBe('Retain');
      expect(res[id(b)]?.UpdateReplacePolicy).toBe('Retain');
    }
    expect(Object.values(res).some((r) => r.Type === 'Custom::S3AutoDeleteObjects')).toBe(false);
  });
});
