/**
 * The paypipe stack: producer Lambda (scheduled) → Kinesis input stream → aggregator Lambda
 * (tumbling windows) → Kinesis output stream → Firehose → S3 (aggregations, GZIP); the input stream
 * also feeds a raw Firehose → S3. Every name, size, prefix and tuning knob comes from the one
 * PipelineConfig (src/pipeline/config.ts); nothing is hard-coded here.
 *
 * Stable L2 constructs only. IAM is granted through the constructs' grant methods where they grant
 * what the code calls, and written out action by action where they grant more (the Firehose roles,
 * the writers of KMS-encrypted streams). The findings cdk-nag raises are fixed, or acknowledged one
 * by one with a reason that holds (see `acknowledge` and docs/infra.md).
 */
import { existsSync } from 'node:fs';
import {
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  Tags,
  Validations,
} from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import {
  type DeliverySettings,
  LAMBDA_ENV,
  type LifecycleSettings,
  type PipelineConfig,
  type StreamSettings,
} from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
import { paypipeVersion } from '../version.js';
import { Monitoring } from './monitoring.js';
import { privateBucketProps } from './private-bucket.js';
import { QueryTables } from './query-tables.js';
import type { StackOutputKey } from './output-keys.js';
import { type LambdaEntries, lambdaEntries, lockFile, packageRoot } from './paths.js';

export interface PaypipeStackProps extends StackProps {
  readonly config: PipelineConfig;
  /** Defaults to src/lambdas/{producer,aggregator}.ts in this package. */
  readonly entries?: LambdaEntries;
  /**
   * Apply the cdk-nag acknowledgements (default true). False still records them in
   * `acknowledgements` but lets every finding through, so a test can check that each
   * acknowledgement answers a real finding and none is stale.
   */
  readonly applyAcknowledgements?: boolean;
}

/** One cdk-nag finding acknowledged on purpose, with the reason (listed in docs/infra.md). */
export interface Acknowledgement {
  /** Construct path the acknowledgement is attached to (it covers that construct's children). */
  readonly path: string;
  /** Rule id, with the finding in brackets for granular rules: `AwsSolutions-IAM5[Action::s3:List*]`. */
  readonly id: string;
  readonly reason: string;
}

// Lambda functions run on the newest Node.js LTS the code is tested on (engines: node >= 20).
const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;
const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;

export class PaypipeStack extends Stack {
  readonly config: PipelineConfig;
  readonly acknowledgements: Acknowledgement[] = [];
  private readonly applyAcknowledgements: boolean;

  /** The environment's customer-managed key (config.encryption.customerManagedKey), if any. */
  readonly dataKey: kms.Key | undefined;
  readonly rawBucket: s3.Bucket;
  readonly analyticsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly inputStream: kinesis.Stream;
  readonly outputStream: kinesis.Stream;
  readonly rawDelivery: firehose.DeliveryStream;
  readonly analyticsDelivery: firehose.DeliveryStream;
  /** Each delivery stream's own role and the one policy that says everything it may do. */
  readonly deliveryRoles: { readonly raw: DeliveryRole; readonly analytics: DeliveryRole };
  readonly producer: NodejsFunction;
  readonly aggregator: NodejsFunction;
  readonly failureQueue: sqs.Queue;
  readonly schedule: events.Rule;
  readonly aggregatorSource: KinesisEventSource;
  /** Undefined when the environment sets `monitoring: false`. */
  readonly monitoring: Monitoring | undefined;
  /** The Glue database and tables and the Athena workgroup; undefined with `queryTables: false`. */
  readonly query: QueryTables | undefined;

  constructor(scope: Construct, id: string, props: PaypipeStackProps) {
    super(scope, id, { terminationProtection: props.config.terminationProtection, ...props });
    const config = props.config;
    this.config = config;
    this.applyAcknowledgements = props.applyAcknowledgements ?? true;
    const entries = props.entries ?? lambdaEntries();
    for (const [name, file] of Object.entries(entries)) {
      if (!existsSync(file)) {
        throw new PaypipeError('IO', `the ${name} Lambda entry ${file} does not exist`, {
          hint: 'run paypipe from a complete installation or checkout (it bundles src/lambdas at synth time)',
        });
      }
    }
    const destroy = config.removalPolicy === 'destroy';
    const removalPolicy = destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // ---------------------------------------------------------------- key
    // Retained with the buckets: data they keep must stay readable after the stack is gone.
    this.dataKey = config.encryption.customerManagedKey
      ? new kms.Key(this, 'DataKey', {
          description: `paypipe ${config.stackName}: data buckets and Kinesis streams`,
          alias: `alias/${config.stackName}-data`,
          enableKeyRotation: true,
          removalPolicy,
          pendingWindow: Duration.days(30),
          policy: dataKeyPolicy(this.region),
        })
      : undefined;
    const key = this.dataKey;

    // ---------------------------------------------------------------- storage
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      // Server access log delivery supports SSE-S3 only (not SSE-KMS).
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(365),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    const dataBucket = (id: string, logPrefix: string): s3.Bucket =>
      new s3.Bucket(this, id, {
        ...privateBucketProps(key, { bucket: this.accessLogsBucket, prefix: logPrefix }),
        versioned: true,
        lifecycleRules: lifecycleRules(config.lifecycle),
        removalPolicy,
        autoDeleteObjects: destroy,
      });
    this.rawBucket = dataBucket('RawBucket', 'raw/');
    this.analyticsBucket = dataBucket('AnalyticsBucket', 'analytics/');
    const floor = config.lifecycle.transitionMinObjectSizeBytes;
    if (floor > 0 && lifecycleRules(config.lifecycle)[0]?.id === 'tiering') {
      for (const b of [this.rawBucket, this.analyticsBucket]) {
        // CloudFormation types ObjectSizeGreaterThan as a string (a long); the construct writes a number.
        (b.node.defaultChild as s3.CfnBucket).addPropertyOverride(
          'LifecycleConfiguration.Rules.0.ObjectSizeGreaterThan',
          String(floor),
        );
      }
    }
    // A retained bucket keeps its TLS-only policy: without it, the bucket that outlives the stack
    // would accept plain HTTP.
    for (const b of [this.accessLogsBucket, this.rawBucket, this.analyticsBucket]) {
      b.policy?.applyRemovalPolicy(removalPolicy);
    }

    // ---------------------------------------------------------------- streams
    const stream = (id: string, s: StreamSettings): kinesis.Stream =>
      new kinesis.Stream(this, id, {
        streamName: s.name,
        streamMode:
          s.capacityMode === 'ON_DEMAND' ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
        ...(s.capacityMode === 'PROVISIONED' ? { shardCount: s.shardCount } : {}),
        retentionPeriod: Duration.hours(s.retentionHours),
        ...(key === undefined
          ? // The AWS-managed key (alias/aws/kinesis): encryption at rest without per-key costs.
            { encryption: kinesis.StreamEncryption.MANAGED }
          : { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key }),
        // Streams hold at most `retentionHours` of transient data; the durable copy is in S3.
        removalPolicy: RemovalPolicy.DESTROY,
      });
    this.inputStream = stream('InputStream', config.streams.input);
    this.outputStream = stream('OutputStream', config.streams.output);
    if (key !== undefined) {
      for (const st of [this.inputStream, this.outputStream]) {
        this.acknowledge(
          st,
          'AwsSolutions-KDS3',
          "The stream is encrypted with the environment's customer-managed key on purpose (`kms` setting): its key policy allows use only through Kinesis and S3 in this account, it rotates yearly and every use is in CloudTrail; the AWS-managed alias/aws/kinesis offers none of that control.",
        );
      }
    }

    // ---------------------------------------------------------------- firehose
    const delivery = (
      id: string,
      s: DeliverySettings,
      source: kinesis.Stream,
      bucket: s3.Bucket,
    ): { stream: firehose.DeliveryStream; role: DeliveryRole } => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: LOG_RETENTION,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Its own role with exactly what Firehose calls (Firehose's S3 destination and Kinesis source
      // policies): the constructs' grants would add s3:DeleteObject* and other actions it never
      // uses, so they are given an immutable view of the role and the policy is written below.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com').withConditions({
          // Only Firehose acting for this account may assume it (confused deputy).
          StringEquals: { 'sts:ExternalId': Aws.ACCOUNT_ID },
        }),
        description: `Firehose ${s.name}: read ${source.node.id}, write ${bucket.node.id}`,
      });
      const fixed = role.withoutPolicyUpdates();
      const d = new firehose.DeliveryStream(this, id, {
        deliveryStreamName: s.name,
        role: fixed,
        source: new firehose.KinesisStreamSource(source),
        destination: new firehose.S3Bucket(bucket, {
          role: fixed,
          dataOutputPrefix: s.prefix,
          errorOutputPrefix: s.errorPrefix,
          bufferingInterval: Duration.seconds(s.bufferIntervalSeconds),
          bufferingSize: Size.mebibytes(s.bufferSizeMiB),
          compression:
            s.compression === 'GZIP' ? firehose.Compression.GZIP : firehose.Compression.UNCOMPRESSED,
          fileExtension: s.fileExtension,
          // Firehose's own record processing (no Lambda): a newline after every record.
          ...(s.appendNewline ? { processors: [new firehose.AppendDelimiterToRecordProcessor()] } : {}),
          loggingConfig: new firehose.EnableLogging(logGroup),
        }),
      });
      const logStream = logGroup.node.findChild('S3Destination') as logs.LogStream;
      const objects = [staticPrefix(s.prefix), staticPrefix(s.errorPrefix)].map((p) =>
        bucket.arnForObjects(`${p}*`),
      );
      const statements = [
        new iam.PolicyStatement({
          sid: 'ReadSourceStream',
          actions: [
            'kinesis:DescribeStream',
            'kinesis:GetShardIterator',
            'kinesis:GetRecords',
            'kinesis:ListShards',
          ],
          resources: [source.streamArn],
        }),
        new iam.PolicyStatement({
          sid: 'Bucket',
          actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
          resources: [bucket.bucketArn],
        }),
        new iam.PolicyStatement({
          sid: 'ObjectsUnderItsPrefixes',
          actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
          resources: objects,
        }),
        new iam.PolicyStatement({
          sid: 'DeliveryErrorLog',
          actions: ['logs:PutLogEvents'],
          resources: [
            this.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
        ...(key === undefined
          ? []
          : [
              new iam.PolicyStatement({
                sid: 'DataKey',
                // Decrypt: reading the source stream and completing multipart uploads;
                // GenerateDataKey: writing objects. The key policy allows them via Kinesis and S3 only.
                actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
                resources: [key.keyArn],
              }),
            ]),
      ];
      const policy = new iam.Policy(this, `${id}Policy`, { roles: [role], statements });
      // Firehose checks its role when the delivery stream is created.
      d.node.addDependency(policy);
      return { stream: d, role: { role, policy } };
    };
    const raw = delivery('RawDelivery', config.firehose.raw, this.inputStream, this.rawBucket);
    const analytics = delivery(
      'AnalyticsDelivery',
      config.firehose.analytics,
      this.outputStream,
      this.analyticsBucket,
    );
    this.rawDelivery = raw.stream;
    this.analyticsDelivery = analytics.stream;
    this.deliveryRoles = { raw: raw.role, analytics: analytics.role };

    // ---------------------------------------------------------------- lambdas
    const root = packageRoot();
    const deps = lockFile(root);
    const fn = (
      id: string,
      entry: string,
      settings: { functionName: string; memoryMiB: number; timeoutSeconds: number },
      environment: Record<string, string>,
      description: string,
    ): NodejsFunction => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        // The conventional name, so `aws logs tail /aws/lambda/<function>` and consoles find it.
        logGroupName: `/aws/lambda/${settings.functionName}`,
        retention: LOG_RETENTION,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // An explicit role instead of the default one: the default attaches the AWS managed
      // AWSLambdaBasicExecutionRole (logs:* on every log group); this one may write its own group only.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `${description} (execution role)`,
      });
      logGroup.grantWrite(role);
      return new NodejsFunction(this, id, {
        functionName: settings.functionName,
        description,
        entry,
        handler: 'handler',
        runtime: LAMBDA_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        memorySize: settings.memoryMiB,
        timeout: Duration.seconds(settings.timeoutSeconds),
        role,
        logGroup,
        environment,
        projectRoot: root,
        ...(deps === undefined ? {} : { depsLockFilePath: deps }),
        bundling: {
          format: OutputFormat.ESM,
          target: 'node22',
          platform: 'node',
          mainFields: ['module', 'main'],
          // Bundle the SDK too: the deployed code is exactly the code that was tested.
          externalModules: [],
          minify: true,
          // No source maps: nothing reads them at run time (NODE_OPTIONS has no
          // --enable-source-maps), and they embed paths of the checkout, which would make the code
          // asset — and so `paypipe diff` — differ between two machines with identical sources.
          sourceMap: false,
          logLevel: LogLevel.WARNING,
          // CommonJS dependencies bundled into ESM may still call require() for built-ins.
          banner:
            "import { createRequire as __pp_createRequire } from 'node:module'; const require = __pp_createRequire(import.meta.url);",
          // Use the esbuild in node_modules, never Docker (no Docker on build machines).
          forceDockerBundling: false,
        },
      });
    };

    /** Put records on a stream: the write actions, and with a customer key only GenerateDataKey on it. */
    const grantPut = (grantee: iam.IGrantable, target: kinesis.Stream): void => {
      // stream.grantWrite would also grant kms:Encrypt, kms:ReEncrypt*, kms:GenerateDataKey*,
      // kinesis:PutRecord and kinesis:ListShards: the functions only call PutRecords (the local IAM
      // report in test/security/local-iam.test.ts fails if a held action goes unused).
      target.grant(grantee, 'kinesis:PutRecords');
      grantGenerateDataKey(grantee);
    };
    const grantGenerateDataKey = (grantee: iam.IGrantable): void => {
      if (key === undefined) return;
      iam.Grant.addToPrincipal({ grantee, actions: ['kms:GenerateDataKey'], resourceArns: [key.keyArn] });
    };

    this.producer = fn(
      'Producer',
      entries.producer,
      config.producer,
      {
        [LAMBDA_ENV.inputStream]: this.inputStream.streamName,
        [LAMBDA_ENV.eventsPerInvocation]: String(config.producer.eventsPerInvocation),
        [LAMBDA_ENV.environment]: config.stackName,
      },
      'paypipe producer: puts synthetic payment events on the input stream',
    );
    grantPut(this.producer, this.inputStream);

    this.failureQueue = new sqs.Queue(this, 'AggregatorFailures', {
      queueName: config.failureQueueName,
      // SQS-managed keys: the messages hold batch metadata (shard, sequence range, times), no
      // payment data, and the Lambda service can write them without a key grant.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: failed-batch records are for people to investigate.
      retentionPeriod: Duration.days(14),
    });
    this.acknowledge(
      this.failureQueue,
      'AwsSolutions-SQS3',
      "This queue is itself the aggregator's on-failure destination (a dead-letter queue); `paypipe redrive` consumes it, and a message it cannot replay is left in place rather than moved to another queue.",
    );

    const agg = config.aggregator;
    this.aggregator = fn(
      'Aggregator',
      entries.aggregator,
      agg,
      {
        [LAMBDA_ENV.outputStream]: this.outputStream.streamName,
        [LAMBDA_ENV.deadLetterBucket]: this.analyticsBucket.bucketName,
        [LAMBDA_ENV.deadLetterPrefix]: agg.deadLetterPrefix,
        [LAMBDA_ENV.windowSeconds]: String(agg.windowSeconds),
        [LAMBDA_ENV.maxFutureSkewMs]: String(agg.maxFutureSkewMs),
        [LAMBDA_ENV.environment]: config.stackName,
      },
      'paypipe aggregator: 1-minute tumbling windows per currency from the input stream',
    );
    this.aggregatorSource = new KinesisEventSource(this.inputStream, {
      startingPosition:
        agg.startingPosition === 'LATEST'
          ? lambda.StartingPosition.LATEST
          : lambda.StartingPosition.TRIM_HORIZON,
      batchSize: agg.batchSize,
      maxBatchingWindow: Duration.seconds(agg.maxBatchingWindowSeconds),
      bisectBatchOnError: agg.bisectBatchOnError,
      reportBatchItemFailures: agg.reportBatchItemFailures,
      // -1 (no limit) cannot be said through the construct; it is written into the template below.
      ...(agg.retryAttempts >= 0 ? { retryAttempts: agg.retryAttempts } : {}),
      ...(agg.maxRecordAgeSeconds >= 0 ? { maxRecordAge: Duration.seconds(agg.maxRecordAgeSeconds) } : {}),
      parallelizationFactor: agg.parallelizationFactor,
      onFailure: new SqsDlq(this.failureQueue),
    });
    // Binding grants the function read on the input stream (and kms:Decrypt on its key) and
    // SendMessage on the queue.
    this.aggregator.addEventSource(this.aggregatorSource);
    const mapping = this.aggregator.node.children.find(
      (c): c is lambda.EventSourceMapping => c instanceof lambda.EventSourceMapping,
    );
    const cfnMapping = mapping?.node.defaultChild as lambda.CfnEventSourceMapping | undefined;
    // Explicit rather than left to the service default, so the template says what it does.
    if (agg.retryAttempts < 0) cfnMapping?.addPropertyOverride('MaximumRetryAttempts', -1);
    if (agg.maxRecordAgeSeconds < 0) cfnMapping?.addPropertyOverride('MaximumRecordAgeInSeconds', -1);
    grantPut(this.aggregator, this.outputStream);
    // Dead letters only: single PutObject calls under its prefix, nothing else in the bucket
    // (bucket.grantPut would add s3:Abort* and the object-lock/tagging puts it never makes). With a
    // customer key the bucket's default encryption needs GenerateDataKey, granted by grantPut above.
    iam.Grant.addToPrincipal({
      grantee: this.aggregator,
      actions: ['s3:PutObject'],
      resourceArns: [this.analyticsBucket.arnForObjects(`${agg.deadLetterPrefix}*`)],
    });

    // ---------------------------------------------------------------- schedule
    this.schedule = new events.Rule(this, 'ProducerSchedule', {
      description: `Invokes ${config.producer.functionName} on ${config.producer.schedule}`,
      schedule: events.Schedule.expression(config.producer.schedule),
      enabled: config.producer.scheduleEnabled,
      targets: [
        new targets.LambdaFunction(this.producer, {
          // A late run is useless: the next one is due within the schedule period anyway.
          maxEventAge: Duration.minutes(5),
          retryAttempts: 2,
        }),
      ],
    });
    // No asynchronous retries: a failed producer run may have put part of its events already, a
    // retry would duplicate them, and the next scheduled run comes soon.
    this.producer.configureAsyncInvoke({ retryAttempts: 0 });

    // ---------------------------------------------------------------- alarms & dashboard
    this.monitoring = config.alarms.enabled ? new Monitoring(this, 'Monitoring', config) : undefined;

    // ---------------------------------------------------------------- query tables
    this.query = config.query.enabled
      ? new QueryTables(this, 'Query', {
          config,
          buckets: { raw: this.rawBucket, analytics: this.analyticsBucket },
          key,
          accessLogsBucket: this.accessLogsBucket,
          removalPolicy,
          autoDeleteObjects: destroy,
        })
      : undefined;

    // ---------------------------------------------------------------- outputs & tags
    const out = (key: StackOutputKey, value: string, description: string): void => {
      new CfnOutput(this, key, { value, description });
    };
    out(
      'InputStreamName',
      this.inputStream.streamName,
      'Kinesis stream the producer writes payment events to',
    );
    out('OutputStreamName', this.outputStream.streamName, 'Kinesis stream of per-window aggregates');
    out('RawBucketName', this.rawBucket.bucketName, `Raw events (${config.firehose.raw.prefix})`);
    out(
      'AnalyticsBucketName',
      this.analyticsBucket.bucketName,
      `Aggregates (${config.firehose.analytics.prefix})`,
    );
    out('ProducerFunctionName', this.producer.functionName, 'Scheduled producer Lambda');
    out('AggregatorFunctionName', this.aggregator.functionName, 'Aggregator Lambda');
    out('FailureQueueUrl', this.failureQueue.queueUrl, 'SQS queue receiving failed aggregator batches');
    out(
      'RawDeliveryStreamName',
      this.rawDelivery.deliveryStreamName,
      'Firehose delivery stream from the input stream to the raw bucket',
    );
    out(
      'AnalyticsDeliveryStreamName',
      this.analyticsDelivery.deliveryStreamName,
      'Firehose delivery stream from the output stream to the analytics bucket',
    );
    out('ProducerScheduleRuleName', this.schedule.ruleName, 'EventBridge rule that invokes the producer');
    out(
      'AggregatorEventSourceMappingUuid',
      this.aggregatorSource.eventSourceMappingId,
      'UUID of the event source mapping from the input stream to the aggregator',
    );
    out('Region', this.region, 'Region the pipeline runs in');
    out('PaypipeVersion', paypipeVersion(), 'The paypipe version that deployed this stack');
    if (this.query !== undefined) {
      out('GlueDatabaseName', this.query.database.ref, 'Glue database of the query tables');
      out('AthenaWorkGroupName', this.query.workGroup.ref, 'Athena workgroup for paypipe query');
    }

    for (const [key, value] of Object.entries(config.tags)) Tags.of(this).add(key, value);

    this.acknowledgeGenerated();
  }

  /** Acknowledges one cdk-nag finding on `scope` (and its children) and records it for the docs. */
  acknowledge(scope: IConstruct, id: string, reason: string): void {
    if (this.applyAcknowledgements) Validations.of(scope).acknowledge({ id, reason });
    this.acknowledgements.push({ path: scope.node.path, id, reason });
  }

  /**
   * Findings on choices made on purpose, and on what cannot be narrowed further. Each is
   * acknowledged where it arises (never stack-wide), one finding at a time.
   */
  private acknowledgeGenerated(): void {
    const arnOf = (bucket: s3.Bucket): string =>
      `<${this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    for (const [d, role, bucket, s] of [
      [this.rawDelivery, this.deliveryRoles.raw, this.rawBucket, this.config.firehose.raw],
      [
        this.analyticsDelivery,
        this.deliveryRoles.analytics,
        this.analyticsBucket,
        this.config.firehose.analytics,
      ],
    ] as const) {
      for (const prefix of [staticPrefix(s.prefix), staticPrefix(s.errorPrefix)]) {
        this.acknowledge(
          role.policy,
          `AwsSolutions-IAM5[Resource::${arnOf(bucket)}/${prefix}*]`,
          `Firehose writes objects under keys it makes at delivery time (arrival hour, a random suffix) below this one prefix of its bucket (${prefix}), so the grant names the prefix, not keys.`,
        );
      }
      this.acknowledge(
        d,
        'AwsSolutions-KDF1',
        "Firehose server-side encryption applies to Direct PUT sources only; with a Kinesis data stream as the source, records are encrypted at rest in the stream and in the bucket (the environment's customer-managed KMS key when `kms` is on, AWS-managed keys otherwise) and in transit (TLS).",
      );
    }
    this.acknowledge(
      this.aggregator.role ?? this.aggregator,
      `AwsSolutions-IAM5[Resource::${arnOf(this.analyticsBucket)}/${this.config.aggregator.deadLetterPrefix}*]`,
      'The aggregator writes one dead-letter object per rejected batch under the dead-letter prefix with keys made at run time; the grant is s3:PutObject on that prefix only.',
    );
    for (const f of [this.producer, this.aggregator]) {
      this.acknowledge(
        f,
        'AwsSolutions-L1',
        'Pinned to Node.js 22 (LTS), the runtime the handlers are bundled for (esbuild target node22) and tested on; moving to a newer runtime is a deliberate, tested upgrade rather than an automatic one.',
      );
    }
  }
}

export interface DeliveryRole {
  readonly role: iam.Role;
  readonly policy: iam.Policy;
}

/** The literal part of a Firehose prefix, up to its last "/" before the first `!{…}`: `data/`. */
export function staticPrefix(prefix: string): string {
  const i = prefix.indexOf('!{');
  const literal = i < 0 ? prefix : prefix.slice(0, i);
  return literal.slice(0, literal.lastIndexOf('/') + 1);
}

/**
 * The data buckets' lifecycle, from the environment's settings: transitions for objects above the
 * stated size floor only, expiration of current versions when set, and always: noncurrent versions
 * expire, incomplete multipart uploads are aborted, and the delete markers left behind are removed.
 */
export function lifecycleRules(l: LifecycleSettings): s3.LifecycleRule[] {
  const transitions: s3.Transition[] = [];
  if (l.infrequentAccessAfterDays !== null) {
    transitions.push({
      storageClass: s3.StorageClass.INFREQUENT_ACCESS,
      transitionAfter: Duration.days(l.infrequentAccessAfterDays),
    });
  }
  if (l.glacierAfterDays !== null) {
    transitions.push({
      storageClass: s3.StorageClass.GLACIER,
      transitionAfter: Duration.days(l.glacierAfterDays),
    });
  }
  return [
    ...(transitions.length === 0
      ? []
      : [
          {
            id: 'tiering',
            transitions,
            // Stated, so the rule says what it does (S3 would otherwise apply its own 128 KiB floor).
            ...(l.transitionMinObjectSizeBytes > 0
              ? { objectSizeGreaterThan: l.transitionMinObjectSizeBytes }
              : {}),
          },
        ]),
    ...(l.expirationDays === null ? [] : [{ id: 'expiration', expiration: Duration.days(l.expirationDays) }]),
    {
      id: 'housekeeping',
      noncurrentVersionExpiration: Duration.days(l.noncurrentVersionExpirationDays),
      abortIncompleteMultipartUploadAfter: Duration.days(l.abortIncompleteMultipartUploadDays),
      expiredObjectDeleteMarker: true,
    },
  ];
}

/** Key administration for the account (no use), and use only through Kinesis and S3 in the region. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

/**
 * The data key's policy. Least privilege: the account may administer the key (CloudFormation and
 * the people who run it, as their IAM policies allow) but not use it directly; data keys and
 * decryption are allowed only when Kinesis or S3 in this region ask on behalf of a principal of
 * this account whose own IAM policy grants them — the pipeline's roles (stack), an operator
 * reading results. Nobody can decrypt arbitrary ciphertext with it.
 */
function dataKeyPolicy(region: string): iam.PolicyDocument {
  const account = new iam.AccountRootPrincipal();
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'KeyAdministration',
        principals: [account],
        actions: [...KEY_ADMIN_ACTIONS],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'UseThroughKinesisAndS3',
        principals: [account],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:CallerAccount': Aws.ACCOUNT_ID,
            'kms:ViaService': [`kinesis.${region}.amazonaws.com`, `s3.${region}.amazonaws.com`],
          },
        },
      }),
    ],
  });
}
