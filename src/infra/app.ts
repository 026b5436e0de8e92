/**
 * The CDK app around the paypipe stack, for the CLI (through @aws-cdk/toolkit-lib) and for tests.
 * Synthesis is fully offline: the stack's region comes from the config, the account stays
 * unresolved (the deploy fills it in from the credentials) and nothing is looked up.
 */
import { App, Validations } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { PipelineConfig } from '../pipeline/config.js';
import type { LambdaEntries } from './paths.js';
import { PaypipeStack } from './pipeline-stack.js';

export interface BuildAppOptions {
  /** Cloud assembly directory (default: a fresh temporary directory chosen by CDK). */
  outdir?: string;
  /**
   * Run the checks at synthesis: cdk-nag's AwsSolutions pack and CDK's built-in CloudFormation
   * template validation. Default true; tests that only inspect properties turn it off.
   */
  validation?: boolean;
  /** Extra context, e.g. what the toolkit passes to an assembly builder. */
  context?: Record<string, unknown>;
  /** Override the Lambda entry files (default: src/lambdas/{producer,aggregator}.ts). */
  entries?: LambdaEntries;
  /** See PaypipeStackProps.applyAcknowledgements (default true). */
  applyAcknowledgements?: boolean;
}

/**
 * Context every paypipe synthesis uses: the feature flags `cdk init` would write into cdk.json
 * (current secure defaults, e.g. S3 grants without ACL actions), and in-memory app mode so a
 * validation failure throws with the report in the message.
 */
export function appContext(): Record<string, unknown> {
  return {
    ...cxapi.CURRENTLY_RECOMMENDED_FLAGS,
    [cxapi.CDK_APP_MODE_CONTEXT]: 'inmemory',
  };
}

/** Registers the AwsSolutions rules; any finding that is neither fixed nor acknowledged fails synth. */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

export function buildApp(
  config: PipelineConfig,
  options: BuildAppOptions = {},
): { app: App; stack: PaypipeStack } {
  const validation = options.validation ?? true;
  const app = new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    context: { ...appContext(), ...options.context },
    builtinCloudFormationValidation: validation,
    // No version reporting metadata: the template should only contain what the pipeline needs.
    analyticsReporting: false,
  });
  if (validation) addNagChecks(app);
  const stack = new PaypipeStack(app, config.stackName, {
    config,
    stackName: config.stackName,
    env: { region: config.region },
    description: `paypipe real-time payment pipeline (${config.project}/${config.environment})`,
    ...(options.entries === undefined ? {} : { entries: options.entries }),
    ...(options.applyAcknowledgements === undefined
      ? {}
      : { applyAcknowledgements: options.applyAcknowledgements }),
  });
  return { app, stack };
}
