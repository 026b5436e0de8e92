/**
 * Where a data-path or operations command points: the deployed stack on AWS (default) or the local
 * pipeline started by `paypipe up` (`--local`). Both give the same `ResolvedTarget`, so `send`,
 * `results`, `peek`, `logs`, `doctor` and `schedule` run one code path for AWS and local.
 */
import { resolve } from 'node:path';
import type { ClientTarget } from '../aws/clients.js';
import type { StackOutputs } from '../aws/cloudformation.js';
import { type ConfigOverrides, type PipelineConfig, resolveConfig } from '../pipeline/config.js';
import type { StackOutputKey } from '../pipeline/output-keys.js';
import type { TargetFlags } from './options.js';

export interface ResourceNames {
  inputStream: string;
  outputStream: string;
  rawBucket: string;
  analyticsBucket: string;
  producerFunction: string;
  aggregatorFunction: string;
  rawDeliveryStream: string;
  analyticsDeliveryStream: string;
  /** SQS queue URL on AWS; absent locally (failed batches are a file in the data dir). */
  failureQueueUrl?: string | undefined;
  scheduleRule?: string | undefined;
}

export type ResolvedTarget =
  | {
      kind: 'aws';
      region: string;
      profile?: string | undefined;
      stackName: string;
      config: PipelineConfig;
      clientTarget: Extract<ClientTarget, { kind: 'aws' }>;
      names: ResourceNames;
    }
  | {
      kind: 'local';
      region: string;
      dataDir: string;
      pid: number;
      config: PipelineConfig;
      clientTarget: Extract<ClientTarget, { kind: 'local' }>;
      names: ResourceNames;
    };

export interface ResolveOptions {
  /** Names given by flags; on AWS, when every name in `need` is given, the stack is not read. */
  overrides?: Partial<ResourceNames>;
  /**
   * The names this command uses: on AWS each must come from a stack output (or a flag), else the
   * command stops with STACK_INCOMPLETE naming the missing outputs. Other names are best effort.
   */
  need?: ReadonlyArray<keyof ResourceNames>;
  env?: NodeJS.ProcessEnv;
}

/** The stack output each resource name comes from. */
const OUTPUT_OF: Readonly<Record<keyof ResourceNames, StackOutputKey>> = {
  inputStream: 'InputStreamName',
  outputStream: 'OutputStreamName',
  rawBucket: 'RawBucketName',
  analyticsBucket: 'AnalyticsBucketName',
  producerFunction: 'ProducerFunctionName',
  aggregatorFunction: 'AggregatorFunctionName',
  rawDeliveryStream: 'RawDeliveryStreamName',
  analyticsDeliveryStream: 'AnalyticsDeliveryStreamName',
  failureQueueUrl: 'FailureQueueUrl',
  scheduleRule: 'ProducerScheduleRuleName',
};

export function namesFromConfig(config: PipelineConfig): ResourceNames {
  return {
    inputStream: config.streams.input.name,
    outputStream: config.streams.output.name,
    rawBucket: config.buckets.raw,
    analyticsBucket: config.buckets.analytics,
    producerFunction: config.producer.functionName,
    aggregatorFunction: config.aggregator.functionName,
    rawDeliveryStream: config.firehose.raw.name,
    analyticsDeliveryStream: config.firehose.analytics.name,
  };
}

/**
 * The deployed resources' names, from the stack's outputs. Names the stack lacks fall back to the
 * config's (the stack names streams, functions and delivery streams from it; buckets are named by
 * CloudFormation, so a bucket name from here is only as good as the output): callers that use a
 * name list it in `need`, which makes a missing output an error instead.
 */
export function namesFromOutputs(out: StackOutputs, config: PipelineConfig): ResourceNames {
  const fromConfig = namesFromConfig(config);
  return {
    inputStream: out.InputStreamName ?? fromConfig.inputStream,
    outputStream: out.OutputStreamName ?? fromConfig.outputStream,
    rawBucket: out.RawBucketName ?? fromConfig.rawBucket,
    analyticsBucket: out.AnalyticsBucketName ?? fromConfig.analyticsBucket,
    producerFunction: out.ProducerFunctionName ?? fromConfig.producerFunction,
    aggregatorFunction: out.AggregatorFunctionName ?? fromConfig.aggregatorFunction,
    rawDeliveryStream: out.RawDeliveryStreamName ?? fromConfig.rawDeliveryStream,
    analyticsDeliveryStream: out.AnalyticsDeliveryStreamName ?? fromConfig.analyticsDeliveryStream,
    failureQueueUrl: out.FailureQueueUrl,
    scheduleRule: out.ProducerScheduleRuleName,
  };
}

const defined = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export async function resolveTarget(flags: TargetFlags, opts: ResolveOptions = {}): Promise<ResolvedTarget> {
  const env = opts.env ?? process.env;
  const overrides = defined(opts.overrides ?? {});
  if (flags.local === true) {
    const dataDir = resolve(flags.dataDir ?? '.paypipe');
    const { readLocalEndpoints, localTarget } = await import('../local/endpoints.js');
    const ep = await readLocalEndpoints(dataDir);
    const config = resolveConfig((ep.configOverrides ?? {}) as ConfigOverrides);
    return {
      kind: 'local',
      region: ep.region,
      dataDir,
      pid: ep.pid,
      config,
      clientTarget: localTarget(ep),
      names: { ...namesFromConfig(config), ...overrides },
    };
  }

  // The environment's configuration (paypipe.config.json and the flags): the same object the stack
  // was synthesized from; then the one resolver (src/aws/settings.ts) for region, profile and
  // endpoints: --region, the file, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, default.
  const { loadEnvironment } = await import('./configuration.js');
  const { loaded, aws: clientTarget } = loadEnvironment(flags, env);
  const config = loaded.config;
  const region = clientTarget.region;
  const stackName = flags.stack ?? config.stackName;
  const { assertCredentials } = await import('../aws/credentials.js');
  await assertCredentials(clientTarget, { env });

  const need = opts.need ?? [];
  let names: ResourceNames;
  if (need.length > 0 && need.every((n) => overrides[n] !== undefined)) {
    names = { ...namesFromConfig(config), ...overrides };
  } else {
    const { readStackOutputs } = await import('../aws/stack-outputs.js');
    // Only the outputs this command uses must be there: a stack from another paypipe version, or
    // one whose deploy left an output out, still serves every command that does not use it.
    const out = await readStackOutputs(
      { stackName, region, profile: clientTarget.profile, endpoints: clientTarget.endpoints },
      need.filter((n) => overrides[n] === undefined).map((n) => OUTPUT_OF[n]),
    );
    names = { ...namesFromOutputs(out, config), ...overrides };
  }
  return { kind: 'aws', region, profile: clientTarget.profile, stackName, config, clientTarget, names };
}
