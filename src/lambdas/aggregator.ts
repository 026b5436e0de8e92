/**
 * Aggregator Lambda entry point (bundled by the CDK stack; exports `handler`). Configuration
 * comes from the environment the stack sets (names in LAMBDA_ENV); clients are built once per
 * container at module scope and reused across invocations.
 */
import { kinesisClient, s3Client } from '../aws/clients.js';
import { LAMBDA_ENV } from '../pipeline/config.js';
import { createAggregatorHandler } from './aggregator-handler.js';
import { requireEnv, requireIntEnv } from './lib/env.js';
import { createLogger } from './lib/logger.js';
import { createMetrics } from './lib/metrics.js';

const env = process.env;
const region = requireEnv(env, 'AWS_REGION');
const outputStreamName = requireEnv(env, LAMBDA_ENV.outputStream);
const deadLetterBucket = requireEnv(env, LAMBDA_ENV.deadLetterBucket);
const deadLetterPrefix = requireEnv(env, LAMBDA_ENV.deadLetterPrefix);
const windowSeconds = requireIntEnv(env, LAMBDA_ENV.windowSeconds, 1, 3600);
const maxFutureSkewMs = requireIntEnv(env, LAMBDA_ENV.maxFutureSkewMs, 0, 366 * 86_400_000);
const environment = requireEnv(env, LAMBDA_ENV.environment);

const logger = createLogger({
  service: 'paypipe-aggregator',
  ...(env.AWS_LAMBDA_FUNCTION_NAME === undefined ? {} : { functionName: env.AWS_LAMBDA_FUNCTION_NAME }),
});

export const handler = createAggregatorHandler({
  kinesis: await kinesisClient({ kind: 'aws', region }),
  s3: await s3Client({ kind: 'aws', region }),
  outputStreamName,
  deadLetterBucket,
  deadLetterPrefix,
  windowSeconds,
  maxFutureSkewMs,
  logger,
  metrics: createMetrics({ environment }),
});
