/**
 * The clients take their endpoint from the one resolver: each service its own
 * AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; a target resolved with an injected
 * environment never picks up this process's instead. S3 on a loopback or IP host is addressed
 * like the local servers (path style, checksums when required); a real custom host is not.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { awsOnlyClients, kinesisClient, s3Client } from '../../src/aws/clients.js';
import { resolveAwsSettings } from '../../src/aws/settings.js';

afterEach(() => vi.unstubAllEnvs());

interface Configured {
  config: { endpoint?: () => Promise<{ hostname: string; port?: number }>; forcePathStyle?: unknown };
  destroy(): void;
}

/** host:port the client will call, or undefined for the SDK's own AWS endpoint. */
async function endpointOf(client: Configured): Promise<string | undefined> {
  try {
    if (client.config.endpoint === undefined) return undefined;
    const e = await client.config.endpoint();
    return `${e.hostname}:${e.port}`;
  } finally {
    client.destroy();
  }
}

describe('endpoints per service', () => {
  const env = {
    HOME: '/nonexistent',
    AWS_ENDPOINT_URL: 'http://all.test:4566',
    AWS_ENDPOINT_URL_KINESIS: 'http://kinesis.test:1001',
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: 'http://logs.test:1002',
    AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://events.test:1003',
  };

  it('each client gets its own service variable, else the global one', async () => {
    const target = resolveAwsSettings({}, env);
    const c = await awsOnlyClients(target);
    expect(await endpointOf(await kinesisClient(target))).toBe('kinesis.test:1001');
    expect(await endpointOf(await s3Client(target))).toBe('all.test:4566');
    expect(await endpointOf(await c.logs())).toBe('logs.test:1002');
    expect(await endpointOf(await c.eventBridge())).toBe('events.test:1003');
    for (const make of [c.cloudFormation, c.sts, c.lambda, c.cloudWatch, c.sqs, c.firehose]) {
      expect(await endpointOf(await make())).toBe('all.test:4566');
    }
  });

  it('a target resolved with an injected environment ignores this process', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://process.test:9');
    const target = resolveAwsSettings({}, { HOME: '/nonexistent' });
    expect(target.endpoints).toEqual({});
    const k = await kinesisClient(target);
    // The SDK is told not to look for endpoints of its own (it would find process.test:9).
    expect((k.config as { ignoreConfiguredEndpointUrls?: boolean }).ignoreConfiguredEndpointUrls).toBe(true);
    expect(await endpointOf(k)).toBeUndefined();
    // A target built without the resolver (the Lambdas) reads this process's environment the same way.
    expect(await endpointOf(await kinesisClient({ kind: 'aws', region: 'us-east-1' }))).toBe(
      'process.test:9',
    );
  });
});

describe('S3 addressing on a custom endpoint', () => {
  it.each([
    ['http://127.0.0.1:4569', true],
    ['http://localhost:4569', true],
    ['http://[::1]:4569', true],
    ['https://s3.custom.example', false],
  ])('%s → path style %s', async (url, local) => {
    const c = await s3Client({ kind: 'aws', region: 'us-east-1', endpoints: { s3: url } });
    try {
      expect(c.config.forcePathStyle === true).toBe(local);
      expect(await c.config.requestChecksumCalculation()).toBe(local ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED');
    } finally {
      c.destroy();
    }
  });
});
