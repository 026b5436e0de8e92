/** An in-process kinesalite on a free port, with a Kinesis client from src/aws/clients.ts. */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient } from '../../src/aws/clients.js';

const require = createRequire(import.meta.url);

export interface LocalKinesis {
  client: KinesisClient;
  endpoint: string;
  createStream(name: string, shards: number): Promise<void>;
  /** Every record's data (UTF-8) on every shard, from the start. */
  readAll(name: string): Promise<{ data: string; partitionKey: string; shardId: string }[]>;
  close(): Promise<void>;
}

/** `createStreamMs`: how long a new stream stays CREATING (AWS: seconds; 0 by default here). */
export async function startKinesalite(o: { createStreamMs?: number } = {}): Promise<LocalKinesis> {
  const kinesalite = require('kinesalite') as (o: object) => Server;
  const server = kinesalite({
    createStreamMs: o.createStreamMs ?? 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 100,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = await kinesisClient({
    kind: 'local',
    region: 'ap-southeast-2',
    kinesisEndpoint: endpoint,
    s3Endpoint: 'http://127.0.0.1:1',
  });
  return {
    client,
    endpoint,
    async createStream(name, shards) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    },
    async readAll(name) {
      const shards = (await client.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
      const out: { data: string; partitionKey: string; shardId: string }[] = [];
      for (const sh of shards) {
        let it = (
          await client.send(
            new GetShardIteratorCommand({
              StreamName: name,
              ShardId: sh.ShardId,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
        ).ShardIterator;
        for (;;) {
          const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }));
          for (const rec of r.Records ?? []) {
            out.push({
              data: Buffer.from(rec.Data as Uint8Array).toString('utf8'),
              partitionKey: rec.PartitionKey as string,
              shardId: sh.ShardId as string,
            });
          }
          if ((r.Records ?? []).length === 0) break;
          it = r.NextShardIterator;
        }
      }
      return out;
    },
    async close() {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
