/**
 * Producer Lambda entry point (bundled by the CDK stack; exports `handler`), run every minute by
 * an EventBridge schedule. Configuration from the environment (names in LAMBDA_ENV); the Kinesis
 * client is built once per container.
 */
import { kinesisClient } from '../aws/clients.js';
import { LAMBDA_ENV } from '../pipeline/config.js';
import { requireEnv, requireIntEnv } from './lib/env.js';
import { createLogger } from './lib/logger.js';
import { createMetrics } from './lib/metrics.js';
import { createProducerHandler, MAX_EVENTS_PER_INVOCATION } from './producer-handler.js';

const env = process.env;
const region = requireEnv(env, 'AWS_REGION');
const streamName = requireEnv(env, LAMBDA_ENV.inputStream);
const defaultCount = requireIntEnv(env, LAMBDA_ENV.eventsPerInvocation, 1, MAX_EVENTS_PER_INVOCATION);
const environment = requireEnv(env, LAMBDA_ENV.environment);

export const handler = createProducerHandler({
  kinesis: await kinesisClient({ kind: 'aws', region }),
  streamName,
  defaultCount,
  logger: createLogger({
    service: 'paypipe-producer',
    ...(env.AWS_LAMBDA_FUNCTION_NAME === undefined ? {} : { functionName: env.AWS_LAMBDA_FUNCTION_NAME }),
  }),
  metrics: createMetrics({ environment }),
});
