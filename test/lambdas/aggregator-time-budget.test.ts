/**
 * The aggregator's time budget against its adversary: an output stream (and S3) that accepts the
 * connection and never answers. The handler must give up by its write deadline and return a batch
 * failure itself — well before the function timeout, which on AWS would be a function error (the
 * batch bisected, the invocation killed mid-write). Real SDK clients, real sockets, no mocks.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { PREFIXES, resolveConfig } from '../../src/pipeline/config.js';
import { timeBudget } from '../../src/pipeline/time-budget.js';
import { createAggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { eventSpec, kinesisEvent, wireEvent } from '../factories/kinesis.js';

let server: Server;
let url: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  // Accepts, reads, never writes a byte back.
  server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${a.port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

describe('time budget (one setting: the function timeout)', () => {
  it('a hung output stream and dead-letter bucket give a clean batch failure well before the timeout', async () => {
    const target = {
      kind: 'local' as const,
      region: 'ap-southeast-2',
      kinesisEndpoint: url,
      s3Endpoint: url,
    };
    const kinesis = await kinesisClient(target);
    const s3 = await s3Client(target);
    const lines: Array<Record<string, unknown>> = [];
    try {
      const handler = createAggregatorHandler({
        kinesis,
        s3,
        outputStreamName: 'out',
        deadLetterBucket: 'bucket',
        deadLetterPrefix: PREFIXES.deadLetters,
        windowSeconds: 60,
        maxFutureSkewMs: 86_400_000,
        logger: createLogger({ service: 'aggregator', sink: (l) => lines.push(JSON.parse(l)) }),
      });
      const e = wireEvent({ event_timestamp: Date.now() });
      const event = kinesisEvent([eventSpec(e), { data: 'not json', arrivalMs: Date.now() }]);
      const timeoutMs = 3000;
      const started = Date.now();
      const res = await handler(event, { getRemainingTimeInMillis: () => started + timeoutMs - Date.now() });
      const took = Date.now() - started;
      expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]?.kinesis.sequenceNumber }]);
      const { writeDeadlineMs } = timeBudget(timeoutMs);
      // Not before the deadline (the writes were given their chance), and with time to spare after it.
      expect(took).toBeGreaterThanOrEqual(writeDeadlineMs - 50);
      expect(took).toBeLessThan(timeoutMs - 400);
      const err = lines.find((l) => l.level === 'ERROR');
      expect(String(err?.error)).toMatch(/out|time budget/);
      expect(String(err?.error)).toMatch(/dead-letter PutObject/);
    } finally {
      kinesis.destroy();
      s3.destroy();
    }
  });

  it('for every timeout Lambda allows, the budget keeps ≥ 1 s in reserve and fits ≥ 3 SDK attempts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3000, max: 900_000 }), (remaining) => {
        const b = timeBudget(remaining);
        expect(remaining - b.writeDeadlineMs).toBeGreaterThanOrEqual(1000);
        expect(b.writeDeadlineMs).toBeGreaterThan(0);
        expect(3 * b.attemptTimeoutMs).toBeLessThanOrEqual(b.writeDeadlineMs);
        expect(b.attemptTimeoutMs).toBeLessThanOrEqual(10_000);
      }),
    );
    // Less time left than the minimum (a late retry): still a deadline before the end.
    const tight = timeBudget(800);
    expect(tight.writeDeadlineMs).toBeLessThan(800);
    expect(tight.attemptTimeoutMs).toBeLessThanOrEqual(tight.writeDeadlineMs);
  });

  it('the setting: one field, validated, read by the stack (function timeout) and the local runtime alike', () => {
    expect(resolveConfig().aggregator.timeoutSeconds).toBe(60);
    expect(resolveConfig({ aggregatorTimeoutSeconds: 120 }).aggregator.timeoutSeconds).toBe(120);
    expect(() => resolveConfig({ aggregatorTimeoutSeconds: 2 })).toThrow(
      /aggregatorTimeoutSeconds must be a whole number from 3 to 900/,
    );
    expect(() => resolveConfig({ aggregatorTimeoutSeconds: 901 })).toThrow(/from 3 to 900/);
  });
});
