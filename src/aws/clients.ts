/**
 * The one place AWS SDK v3 clients are built, for AWS and for the embedded local pipeline alike.
 * Everything the local API servers need lives here and nowhere else:
 * - kinesalite speaks HTTP/1.1 only, the Kinesis client defaults to HTTP/2 → NodeHttpHandler;
 * - s3rver needs path-style URLs, its fixed S3RVER/S3RVER credentials, and checksums only when
 *   required (otherwise streamed bodies are stored with aws-chunked framing).
 * The SDK modules are imported lazily so the CLI starts fast.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { STSClient } from '@aws-sdk/client-sts';

export type ClientTarget =
  | { kind: 'aws'; region: string; profile?: string | undefined }
  | { kind: 'local'; region: string; kinesisEndpoint: string; s3Endpoint: string };

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
  return new KinesisClient({
    ...(await common(target, s)),
    ...(target.kind === 'local' ? { endpoint: target.kinesisEndpoint } : {}),
  });
}

export async function s3Client(target: ClientTarget, s: SdkSettings = {}): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    ...(await common(target, s)),
    ...(target.kind === 'local'
      ? {
          endpoint: target.s3Endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

/** Services with no local server: only ever built for AWS (tests fake them). */
export async function awsOnlyClients(target: Extract<ClientTarget, { kind: 'aws' }>, s: SdkSettings = {}) {
  const c = await common(target, s);
  return {
    cloudFormation: async (): Promise<CloudFormationClient> =>
      new (await import('@aws-sdk/client-cloudformation')).CloudFormationClient(c),
    sts: async (): Promise<STSClient> => new (await import('@aws-sdk/client-sts')).STSClient(c),
    lambda: async (): Promise<LambdaClient> => new (await import('@aws-sdk/client-lambda')).LambdaClient(c),
    logs: async (): Promise<CloudWatchLogsClient> =>
      new (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogsClient(c),
    cloudWatch: async (): Promise<CloudWatchClient> =>
      new (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient(c),
    sqs: async (): Promise<SQSClient> => new (await import('@aws-sdk/client-sqs')).SQSClient(c),
    eventBridge: async (): Promise<EventBridgeClient> =>
      new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient(c),
    firehose: async (): Promise<FirehoseClient> =>
      new (await import('@aws-sdk/client-firehose')).FirehoseClient(c),
  };
}
