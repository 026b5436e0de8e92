/**
 * The CloudFormation output keys of the paypipe stack. The stack writes them (src/infra) and the
 * CLI reads them (src/aws/cloudformation.ts), so both sides share this one list; it lives here,
 * below both, because it describes the pipeline. Deliberately free of aws-cdk-lib imports: the
 * resolver loads it on every AWS-touching command.
 */
export const STACK_OUTPUT_KEYS = [
  'InputStreamName',
  'OutputStreamName',
  'RawBucketName',
  'AnalyticsBucketName',
  'ProducerFunctionName',
  'AggregatorFunctionName',
  'FailureQueueUrl',
  'RawDeliveryStreamName',
  'AnalyticsDeliveryStreamName',
  'ProducerScheduleRuleName',
  'AggregatorEventSourceMappingUuid',
  'Region',
  /** The paypipe version that synthesized the stack (doctor compares it with the CLI's). */
  'PaypipeVersion',
  /** The Glue database holding the query tables (src/pipeline/tables.ts). */
  'GlueDatabaseName',
  /** The Athena workgroup `paypipe query` runs in (its results location and scan limit). */
  'AthenaWorkGroupName',
] as const;

export type StackOutputKey = (typeof STACK_OUTPUT_KEYS)[number];
