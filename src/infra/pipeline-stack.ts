/**
 * The paypipe stack: producer Lambda (scheduled) → Kinesis input stream → aggregator Lambda
 * (tumbling windows) → Kinesis output stream → Firehose → S3 (aggregations, GZIP); the input stream
 * also feeds a raw Firehose → S3. Every name, size, prefix and tuning knob comes from the one
 * PipelineConfig (src/pipeline/config.ts); nothing is hard-coded here.
 *
 * Stable L2 constructs only. IAM is granted through the constructs' grant methods; the findings
 * cdk-nag raises about what CDK generates are acknowledged one by one with a reason (see
 * `acknowledge` and docs/infra.md), everything else is fixed.
 */
import { existsSync } from 'node:fs';
import {
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
  type PipelineConfig,
  type StreamSettings,
} from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
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

  readonly rawBucket: s3.Bucket;
  readonly analyticsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly inputStream: kinesis.Stream;
  readonly outputStream: kinesis.Stream;
  readonly rawDelivery: firehose.DeliveryStream;
  readonly analyticsDelivery: firehose.DeliveryStream;
  readonly producer: NodejsFunction;
  readonly aggregator: NodejsFunction;
  readonly failureQueue: sqs.Queue;
  readonly schedule: events.Rule;
  readonly aggregatorSource: KinesisEventSource;

  constructor(scope: Construct, id: string, props: PaypipeStackProps) {
    super(scope, id, props);
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
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned: true,
        serverAccessLogsBucket: this.accessLogsBucket,
        serverAccessLogsPrefix: logPrefix,
        lifecycleRules: [
          {
            id: 'tiering',
            transitions: [
              { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
              { storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(90) },
            ],
            noncurrentVersionTransitions: [
              { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
              { storageClass: s3.StorageClass.GLACIER, transitionAfter: Duration.days(90) },
            ],
            abortIncompleteMultipartUploadAfter: Duration.days(7),
          },
        ],
        removalPolicy,
        autoDeleteObjects: destroy,
      });
    this.rawBucket = dataBucket('RawBucket', 'raw/');
    this.analyticsBucket = dataBucket('AnalyticsBucket', 'analytics/');

    // ---------------------------------------------------------------- streams
    const stream = (id: string, s: StreamSettings): kinesis.Stream =>
      new kinesis.Stream(this, id, {
        streamName: s.name,
        streamMode:
          s.capacityMode === 'ON_DEMAND' ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
        ...(s.capacityMode === 'PROVISIONED' ? { shardCount: s.shardCount } : {}),
        retentionPeriod: Duration.hours(s.retentionHours),
        // The AWS-managed key (alias/aws/kinesis): encryption at rest without per-key costs.
        encryption: kinesis.StreamEncryption.MANAGED,
        // Streams hold at most `retentionHours` of transient data; the durable copy is in S3.
        removalPolicy: RemovalPolicy.DESTROY,
      });
    this.inputStream = stream('InputStream', config.streams.input);
    this.outputStream = stream('OutputStream', config.streams.output);

    // ---------------------------------------------------------------- firehose
    const delivery = (
      id: string,
      s: DeliverySettings,
      source: kinesis.Stream,
      bucket: s3.Bucket,
    ): firehose.DeliveryStream => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: LOG_RETENTION,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const d = new firehose.DeliveryStream(this, id, {
        deliveryStreamName: s.name,
        source: new firehose.KinesisStreamSource(source),
        destination: new firehose.S3Bucket(bucket, {
          dataOutputPrefix: s.prefix,
          errorOutputPrefix: s.errorPrefix,
          bufferingInterval: Duration.seconds(s.bufferIntervalSeconds),
          bufferingSize: Size.mebibytes(s.bufferSizeMiB),
          compression:
            s.compression === 'GZIP' ? firehose.Compression.GZIP : firehose.Compression.UNCOMPRESSED,
          loggingConfig: new firehose.EnableLogging(logGroup),
        }),
      });
      return d;
    };
    this.rawDelivery = delivery('RawDelivery', config.firehose.raw, this.inputStream, this.rawBucket);
    this.analyticsDelivery = delivery(
      'AnalyticsDelivery',
      config.firehose.analytics,
      this.outputStream,
      this.analyticsBucket,
    );

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
          sourceMap: true,
          logLevel: LogLevel.WARNING,
          // CommonJS dependencies bundled into ESM may still call require() for built-ins.
          banner:
            "import { createRequire as __pp_createRequire } from 'node:module'; const require = __pp_createRequire(import.meta.url);",
          // Use the esbuild in node_modules, never Docker (no Docker on build machines).
          forceDockerBundling: false,
        },
      });
    };

    this.producer = fn(
      'Producer',
      entries.producer,
      config.producer,
      {
        [LAMBDA_ENV.inputStream]: this.inputStream.streamName,
        [LAMBDA_ENV.eventsPerInvocation]: String(config.producer.eventsPerInvocation),
      },
      'paypipe producer: puts synthetic payment events on the input stream',
    );
    this.inputStream.grantWrite(this.producer);

    this.failureQueue = new sqs.Queue(this, 'AggregatorFailures', {
      queueName: config.failureQueueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: failed-batch records are for people to investigate.
      retentionPeriod: Duration.days(14),
    });
    this.acknowledge(
      this.failureQueue,
      'AwsSolutions-SQS3',
      "This queue is itself the aggregator's on-failure destination (a dead-letter queue); it holds batch metadata for people to inspect and has no consumer whose failures would need another DLQ.",
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
      retryAttempts: agg.retryAttempts,
      maxRecordAge: Duration.seconds(agg.maxRecordAgeSeconds),
      parallelizationFactor: agg.parallelizationFactor,
      onFailure: new SqsDlq(this.failureQueue),
    });
    // Binding grants the function read on the input stream and SendMessage on the queue.
    this.aggregator.addEventSource(this.aggregatorSource);
    this.outputStream.grantWrite(this.aggregator);
    // Dead letters only: single PutObject calls under its prefix, nothing else in the bucket
    // (bucket.grantPut would add s3:Abort* and the object-lock/tagging puts it never makes).
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

    for (const [key, value] of Object.entries(config.tags)) Tags.of(this).add(key, value);

    this.acknowledgeGenerated();
  }

  /** Acknowledges one cdk-nag finding on `scope` (and its children) and records it for the docs. */
  acknowledge(scope: IConstruct, id: string, reason: string): void {
    if (this.applyAcknowledgements) Validations.of(scope).acknowledge({ id, reason });
    this.acknowledgements.push({ path: scope.node.path, id, reason });
  }

  /**
   * Findings on what CDK's stable constructs generate and offer no way to change, or on choices
   * made on purpose. Each is acknowledged where it arises (never stack-wide), one finding at a time.
   */
  private acknowledgeGenerated(): void {
    const firehoseS3Actions: Record<string, string> = {
      's3:Abort*':
        'AbortMultipartUpload: Firehose uploads large objects in parts and must abort failed uploads (Firehose S3 destination policy); granted on this one bucket by the stable S3Bucket destination.',
      's3:GetBucket*':
        'GetBucketLocation, which Firehose needs for S3 delivery; part of the grant the stable S3Bucket destination applies to this one bucket, with no option to narrow it.',
      's3:List*':
        'ListBucket and ListBucketMultipartUploads, which Firehose needs for S3 delivery; part of the grant the stable S3Bucket destination applies to this one bucket, with no option to narrow it.',
      's3:GetObject*':
        'GetObject, listed in the Firehose S3 destination policy; part of the grant the stable S3Bucket destination applies to this one bucket, with no option to narrow it.',
      's3:DeleteObject*':
        'Part of the read/write grant the stable S3Bucket destination applies (bucket.grantReadWrite) and offers no option to narrow; limited to this one bucket, and Firehose never deletes objects.',
    };
    for (const [d, bucket, what] of [
      [this.rawDelivery, this.rawBucket, 'raw'],
      [this.analyticsDelivery, this.analyticsBucket, 'analytics'],
    ] as const) {
      const role = d.node.findChild('S3 Destination Role');
      for (const [action, reason] of Object.entries(firehoseS3Actions)) {
        this.acknowledge(role, `AwsSolutions-IAM5[Action::${action}]`, reason);
      }
      const arn = `<${this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
      this.acknowledge(
        role,
        `AwsSolutions-IAM5[Resource::${arn}/*]`,
        `Firehose writes objects under arrival-time keys it generates (the ${what} prefix and its error prefix), so the grant covers the objects of this one bucket; keys cannot be listed in advance.`,
      );
      this.acknowledge(
        d,
        'AwsSolutions-KDF1',
        'Firehose server-side encryption is only available for Direct PUT sources, not with a Kinesis data stream as source; records stay encrypted at rest in the source stream (KMS, alias/aws/kinesis) and the destination bucket (SSE-S3), and in transit (TLS).',
      );
    }
    const deadLetters = `<${this.getLogicalId(this.analyticsBucket.node.defaultChild as s3.CfnBucket)}.Arn>/${this.config.aggregator.deadLetterPrefix}*`;
    this.acknowledge(
      this.aggregator.role ?? this.aggregator,
      `AwsSolutions-IAM5[Resource::${deadLetters}]`,
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
