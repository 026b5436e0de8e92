/**
 * The one place AWS SDK v3 clients are built, for AWS and for the embedded local pipeline alike.
 * Everything the local API servers need lives here and nowhere else:
 * - kinesalite speaks HTTP/1.1 only, the Kinesis client defaults to HTTP/2 → NodeHttpHandler;
 * - s3rver needs path-style URLs, its fixed S3RVER/S3RVER credentials, and checksums only when
 *   required (otherwise streamed bodies are stored with aws-chunked framing).
 * On AWS, an endpoint override (AWS_ENDPOINT_URL[_<SERVICE>], see settings.ts) is passed explicitly;
 * one on a loopback or IP host gets the same S3 treatment as the local servers, since nothing there
 * can answer virtual-hosted bucket names or streamed checksums.
 * The SDK modules are imported lazily so the CLI starts fast.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { STSClient } from '@aws-sdk/client-sts';
import { hooked } from './client-hooks.js';
import { type AwsClientTarget, type AwsService, resolveEndpoints } from './settings.js';

export type ClientTarget =
  | AwsClientTarget
  | { kind: 'local'; region: string; kinesisEndpoint: string; s3Endpoint: string };

/** The clients of the services with no local server, built on demand (see awsOnlyClients). */
export type AwsClients = Awaited<ReturnType<typeof awsOnlyClients>>;

/** s3rver's fixed credentials; kinesalite accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface SdkSettings {
  /** Max SDK attempts per call (the SDK's own retry of throttles, 5xx and resets). */
  maxAttempts?: number;
}

async function common(target: ClientTarget, s: SdkSettings) {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler');
  const base = {
    region: target.region,
    maxAttempts: s.maxAttempts ?? 5,
    // Endpoints come from settings.ts alone: the SDK must not pick others from env or config files.
    ignoreConfiguredEndpointUrls: true,
    // HTTP/1.1 everywhere: required by kinesalite, harmless on AWS, and keeps sockets pooled.
    // throwOnRequestTimeout: otherwise a hung request (kinesalite's AT_TIMESTAMP with nothing that new,
    // a stalled S3 body) only logs a warning and never fails, so the SDK's retry never starts.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 5000,
      requestTimeout: 60000,
      throwOnRequestTimeout: true,
    }),
  };
  if (target.kind === 'local') return { ...base, credentials: LOCAL_CREDENTIALS };
  if (target.profile !== undefined) {
    const { fromIni } = await import('@aws-sdk/credential-providers');
    return { ...base, credentials: fromIni({ profile: target.profile }) };
  }
  return base;
}

export async function kinesisClient(target: ClientTarget, s: SdkSettings = {}): Promise<KinesisClient> {
  const { KinesisClient } = await import('@aws-sdk/client-kinesis');
  const endpoint = target.kind === 'local' ? target.kinesisEndpoint : awsEndpoint('kinesis', target);
  return hooked(
    new KinesisClient({
      ...(await common(target, s)),
      ...(endpoint === undefined ? {} : { endpoint }),
    }),
  );
}

export async function s3Client(target: ClientTarget, s: SdkSettings = {}): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const endpoint = target.kind === 'local' ? target.s3Endpoint : awsEndpoint('s3', target);
  return hooked(
    new S3Client({
      ...(await common(target, s)),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(target.kind === 'local' || (endpoint !== undefined && isLocalHost(endpoint))
        ? {
            forcePathStyle: true,
            requestChecksumCalculation: 'WHEN_REQUIRED' as const,
            responseChecksumValidation: 'WHEN_REQUIRED' as const,
          }
        : {}),
    }),
  );
}

/** The target's endpoint for a service: as resolved with the target, else from this environment. */
function awsEndpoint(service: AwsService, target: AwsClientTarget): string | undefined {
  return (target.endpoints ?? resolveEndpoints(process.env, target.profile))[service];
}

/** localhost or an IP literal: a local server, never AWS. */
function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[');
}

/** Services with no local server: only ever built for AWS (tests fake them). */
export async function awsOnlyClients(target: AwsClientTarget, s: SdkSettings = {}) {
  const base = await common(target, s);
  const c = (service: AwsService) => {
    const endpoint = awsEndpoint(service, target);
    return endpoint === undefined ? base : { ...base, endpoint };
  };
  return {
    cloudFormation: async (): Promise<CloudFormationClient> =>
      new (await import('@aws-sdk/client-cloudformation')).CloudFormationClient(c('cloudformation')),
    sts: async (): Promise<STSClient> => new (await import('@aws-sdk/client-sts')).STSClient(c('sts')),
    lambda: async (): Promise<LambdaClient> =>
      new (await import('@aws-sdk/client-lambda')).LambdaClient(c('lambda')),
    logs: async (): Promise<CloudWatchLogsClient> =>
      new (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogsClient(c('cloudwatch-logs')),
    cloudWatch: async (): Promise<CloudWatchClient> =>
      new (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient(c('cloudwatch')),
    sqs: async (): Promise<SQSClient> => new (await import('@aws-sdk/client-sqs')).SQSClient(c('sqs')),
    eventBridge: async (): Promise<EventBridgeClient> =>
      new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient(c('eventbridge')),
    athena: async (): Promise<AthenaClient> =>
      new (await import('@aws-sdk/client-athena')).AthenaClient(c('athena')),
    firehose: async (): Promise<FirehoseClient> =>
      new (await import('@aws-sdk/client-firehose')).FirehoseClient(c('firehose')),
    glue: async (): Promise<GlueClient> => new (await import('@aws-sdk/client-glue')).GlueClient(c('glue')),
  };
}
