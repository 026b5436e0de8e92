/**
 * The CloudFormation output keys of the paypipe stack. The stack writes them and the CLI
 * (src/aws/stack-outputs.ts) reads them, so both sides share this one list. Deliberately free of
 * aws-cdk-lib imports: the resolver loads it on every AWS-touching command.
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
] as const;

export type StackOutputKey = (typeof STACK_OUTPUT_KEYS)[number];
