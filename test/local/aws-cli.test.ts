/**
 * The local servers speak the real APIs: where the AWS CLI v2 is installed, it can list and read
 * the local buckets and stream with --endpoint-url. Skipped (with a note) where it is not.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeObject } from '../../src/pipeline/codec.js';
import { makeEvents, sendEvents, startTestPipeline, type TestPipeline } from '../helpers/local-pipeline.js';

const AWS = '/usr/bin/aws';
const haveAws = existsSync(AWS);
if (!haveAws) console.log(`aws-cli test skipped: ${AWS} not found (apt-get install -y awscli to run it)`);

describe.skipIf(!haveAws)('AWS CLI v2 against the local pipeline', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline();
    await sendEvents(p, makeEvents(50, { startMs: Date.now() - 60_000, spanMs: 60_000 }));
    await p.waitForIdle({ timeoutMs: 30_000 });
  });
  afterAll(async () => {
    await p?.cleanup();
  });
  const aws = (endpoint: string, ...args: string[]): string =>
    execFileSync(
      AWS,
      ['--endpoint-url', endpoint, '--region', p.config.region, '--output', 'json', ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_PAGER: '',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        encoding: 'utf8',
      },
    );

  it("lists the input stream's shards", () => {
    const shards = JSON.parse(
      aws(
        p.endpoints.kinesisEndpoint,
        'kinesis',
        'list-shards',
        '--stream-name',
        p.config.streams.input.name,
      ),
    ) as { Shards: Array<{ ShardId: string }> };
    expect(shards.Shards.map((s) => s.ShardId)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
  });

  it('lists the aggregations and reads one object', () => {
    const objects = JSON.parse(
      aws(
        p.endpoints.s3Endpoint,
        's3api',
        'list-objects-v2',
        '--bucket',
        p.config.buckets.analytics,
        '--prefix',
        'aggregations/',
      ),
    ) as { Contents: Array<{ Key: string }> };
    expect(objects.Contents.length).toBeGreaterThan(0);
    const key = objects.Contents[0]?.Key as string;
    expect(key).toMatch(/^aggregations\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/.+\.gz$/);
    const out = join(tmpdir(), `paypipe-aws-cli-${process.pid}.gz`);
    aws(
      p.endpoints.s3Endpoint,
      's3api',
      'get-object',
      '--bucket',
      p.config.buckets.analytics,
      '--key',
      key,
      out,
    );
    const { records } = decodeObject(readFileSync(out), key);
    rmSync(out, { force: true });
    expect(records.length).toBeGreaterThan(0);
    // Each record is one batch output (docs/windowing.md): its range, and its per-window aggregates.
    const first = records.find((r) => (r as { aggregates?: unknown[] }).aggregates?.length) as
      | { schema_version: number; shard_id: string; aggregates: Array<Record<string, unknown>> }
      | undefined;
    expect(first?.schema_version).toBe(2);
    expect(first?.shard_id).toMatch(/^shardId-/);
    expect(first?.aggregates[0]).toHaveProperty('transaction_count');
  });
});
