import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/lambdas/lib/logger.js';

describe('createLogger', () => {
  it('writes one JSON line per call with Powertools-like fields', () => {
    const lines: string[] = [];
    const log = createLogger({
      service: 'svc',
      functionName: 'fn',
      sink: (l) => lines.push(l),
      now: () => Date.UTC(2024, 0, 15, 10, 30),
    }).withContext({ awsRequestId: 'abc' });
    log.info('hello', { records_in: 3, err: new TypeError('boom') });
    log.debug('hidden at INFO');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const o = JSON.parse(lines[0] as string);
    expect(o).toMatchObject({
      level: 'INFO',
      message: 'hello',
      timestamp: '2024-01-15T10:30:00.000Z',
      service: 'svc',
      function_name: 'fn',
      function_request_id: 'abc',
      records_in: 3,
      err: { name: 'TypeError', message: 'boom' },
    });
    expect(Object.keys(o).slice(0, 4)).toEqual(['level', 'message', 'timestamp', 'service']);
  });

  it('respects the level, adds child fields, and survives unserializable fields', () => {
    const lines: string[] = [];
    const log = createLogger({ service: 's', level: 'WARN', sink: (l) => lines.push(l) }).child({
      shard: 'x',
    });
    log.info('no');
    log.warn('yes');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.error('cyc', { cyclic });
    expect(lines.map((l) => JSON.parse(l).message)).toEqual(['yes', 'cyc']);
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      shard: 'x',
      fields_error: 'unserializable fields',
    });
  });
});

describe('Lambda entry points read their configuration at cold start', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  const aggregatorEnv = {
    AWS_REGION: 'ap-southeast-2',
    OUTPUT_STREAM_NAME: 'paypipe-dev-output-stream',
    DEAD_LETTER_BUCKET: 'bucket',
    DEAD_LETTER_PREFIX: 'dead-letters/',
    WINDOW_SECONDS: '60',
    MAX_FUTURE_SKEW_MS: '86400000',
    PAYPIPE_ENVIRONMENT: 'paypipe-dev',
  };

  it('aggregator: exports a handler when every variable is set', async () => {
    for (const [k, v] of Object.entries(aggregatorEnv)) vi.stubEnv(k, v);
    const mod = await import('../../src/lambdas/aggregator.js');
    expect(typeof mod.handler).toBe('function');
    expect(await mod.handler({ Records: [] })).toEqual({ batchItemFailures: [] });
  });

  it.each(Object.keys(aggregatorEnv))(
    'aggregator: a missing %s fails the cold start naming it',
    async (missing) => {
      for (const [k, v] of Object.entries(aggregatorEnv)) vi.stubEnv(k, k === missing ? '' : v);
      await expect(import('../../src/lambdas/aggregator.js')).rejects.toThrow(
        `environment variable ${missing} is not set`,
      );
    },
  );

  it('aggregator: a malformed WINDOW_SECONDS is named too', async () => {
    for (const [k, v] of Object.entries(aggregatorEnv)) vi.stubEnv(k, v);
    vi.stubEnv('WINDOW_SECONDS', 'sixty');
    await expect(import('../../src/lambdas/aggregator.js')).rejects.toThrow(
      'environment variable WINDOW_SECONDS must be a whole number from 1 to 3600, got "sixty"',
    );
  });

  it('producer: needs INPUT_STREAM_NAME, EVENTS_PER_INVOCATION and PAYPIPE_ENVIRONMENT', async () => {
    vi.stubEnv('AWS_REGION', 'ap-southeast-2');
    vi.stubEnv('INPUT_STREAM_NAME', 'in');
    vi.stubEnv('EVENTS_PER_INVOCATION', '');
    await expect(import('../../src/lambdas/producer.js')).rejects.toThrow('EVENTS_PER_INVOCATION is not set');
    vi.resetModules();
    vi.stubEnv('EVENTS_PER_INVOCATION', '100');
    await expect(import('../../src/lambdas/producer.js')).rejects.toThrow('PAYPIPE_ENVIRONMENT is not set');
    vi.resetModules();
    vi.stubEnv('PAYPIPE_ENVIRONMENT', 'paypipe-dev');
    expect(typeof (await import('../../src/lambdas/producer.js')).handler).toBe('function');
  });
});
