/**
 * Where a data-path or operations command points: the deployed stack on AWS (default) or the local
 * pipeline started by `paypipe up` (`--local`). Both give the same `ResolvedTarget`, so `send`,
 * `results`, `peek`, `logs`, `doctor` and `schedule` run one code path for AWS and local.
 */
import { resolve } from 'node:path';
import type { ClientTarget } from '../aws/clients.js';
import type { StackOutputs } from '../aws/cloudformation.js';
import { type ConfigOverrides, type PipelineConfig, resolveConfig } from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
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
  need?: ReadonlyArray<keyof ResourceNames>;
  env?: NodeJS.ProcessEnv;
}

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

/** The deployed resources' names, from the stack's outputs. */
export function namesFromOutputs(out: StackOutputs): ResourceNames {
  return {
    inputStream: out.InputStreamName,
    outputStream: out.OutputStreamName,
    rawBucket: out.RawBucketName,
    analyticsBucket: out.AnalyticsBucketName,
    producerFunction: out.ProducerFunctionName,
    aggregatorFunction: out.AggregatorFunctionName,
    rawDeliveryStream: out.RawDeliveryStreamName,
    analyticsDeliveryStream: out.AnalyticsDeliveryStreamName,
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
    const out = await readStackOutputs({
      stackName,
      region,
      profile: clientTarget.profile,
      endpoints: clientTarget.endpoints,
    });
    names = { ...namesFromOutputs(out), ...overrides };
  }
  if (names.inputStream === undefined) {
    throw new PaypipeError(
      'STACK_NOT_FOUND',
      `stack ${stackName} in ${region} has no InputStreamName output`,
      {
        hint: 'run `paypipe deploy` to update the stack',
      },
    );
  }
  return { kind: 'aws', region, profile: clientTarget.profile, stackName, config, clientTarget, names };
}
