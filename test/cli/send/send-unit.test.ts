/**
 * `send` pieces with no local server behind them: --via-lambda against a faked Lambda (the one
 * service here with no local server), the progress line, and flag combinations.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSendFlags, invokeProducer, progressLine, sinceCovering } from '../../../src/cli/send/send.js';
import { readSummaryTotals } from '../../../src/pipeline/send-summary.js';

const lambdaMock = mockClient(LambdaClient);
afterEach(() => lambdaMock.reset());

/** The SDK's response payload type: bytes that can also render themselves as a string. */
const payload = (o: unknown) => {
  const text = JSON.stringify(o);
  return Object.assign(new TextEncoder().encode(text), { transformToString: () => text });
};

describe('--via-lambda', () => {
  it('invokes the producer with { count, seed } and turns its result into a summary --verify accepts', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: payload({
        sent: 1000,
        failed: 0,
        retried: 3,
        seed: 77,
        totals_by_currency: {
          JPY: { count: 100, total_amount: 123456 },
          USD: { count: 900, total_amount: 31415.92 },
        },
      }),
    });
    const lambda = new LambdaClient({
      region: 'ap-southeast-2',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    const doc = await invokeProducer(lambda, 'paypipe-dev-producer', {
      count: 1000,
      seed: 77,
      stream: 'in',
      region: 'ap-southeast-2',
    });
    const call = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(call?.FunctionName).toBe('paypipe-dev-producer');
    expect(JSON.parse(Buffer.from(call?.Payload as Uint8Array).toString('utf8'))).toEqual({
      count: 1000,
      seed: 77,
    });
    expect(doc).toMatchObject({
      sent: 1000,
      failed: 0,
      retried: 3,
      source: { type: 'lambda', function: 'paypipe-dev-producer' },
    });
    expect(doc.byCurrency).toEqual({
      JPY: { count: 100, total: '123456' },
      USD: { count: 900, total: '31415.92' },
    });
    expect(Object.fromEntries(readSummaryTotals(JSON.parse(JSON.stringify(doc)), 'x').totals)).toEqual({
      JPY: { count: 100, totalMinor: 123456 },
      USD: { count: 900, totalMinor: 3141592 },
    });
  });

  it('reports a failed invocation in one line with the function error', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload({
        errorType: 'Error',
        errorMessage: '12 of 1000 events unsent to in after retries\nstack…',
      }),
    });
    const lambda = new LambdaClient({
      region: 'ap-southeast-2',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await expect(invokeProducer(lambda, 'p', { count: 1000, stream: 'in', region: 'r' })).rejects.toThrow(
      /^the producer p failed: Error: 12 of 1000 events unsent to in after retries$/,
    );
  });

  it('turns a missing function into an error with a hint', async () => {
    lambdaMock
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Function not found: p'), { name: 'ResourceNotFoundException' }));
    const lambda = new LambdaClient({
      region: 'ap-southeast-2',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await expect(invokeProducer(lambda, 'p', { count: 1, stream: 'in', region: 'r' })).rejects.toMatchObject({
      message: 'invoking p failed: ResourceNotFoundException: Function not found: p',
      hint: expect.stringMatching(/deployed/),
    });
  });
});

describe('send flags and progress', () => {
  it('rejects combinations that make no sense', () => {
    expect(() => checkSendFlags({ viaLambda: true, rate: 5 })).toThrow(
      /--via-lambda cannot be combined with --rate/,
    );
    expect(() => checkSendFlags({ fromFile: 'a', scenario: 'messy' })).toThrow(/--from-file replays a file/);
    expect(() => checkSendFlags({ count: 3, scenario: 'messy' })).not.toThrow();
  });

  it('shows sent, rate, retries and ETA', () => {
    const line = progressLine(
      { pulled: 60_000, sent: 50_000, failed: 0, retried: 12, throttled: 0, requests: 100, elapsedMs: 5000 },
      { count: 100_000 },
    );
    expect(line).toBe('[██████████░░░░░░░░░░]  50%  50,000/100,000 sent  10,000/s  retries 12  ETA 5.0 s');
    expect(
      progressLine(
        { pulled: 10, sent: 10, failed: 1, retried: 0, throttled: 4, requests: 1, elapsedMs: 2000 },
        { durationMs: 10_000 },
      ),
    ).toBe('[████░░░░░░░░░░░░░░░░]  20%  10 sent  5/s  retries 0  throttled 4  failed 1  ETA 8.0 s');
  });
});

describe('--scenario: a typo is not the clean preset', () => {
  it('rejects specs with nothing in them or with empty parts; keeps presets and overrides', async () => {
    const fc = (await import('fast-check')).default;
    const { parseScenario } = await import('../../../src/cli/scenario.js');
    fc.assert(
      fc.property(fc.stringMatching(/^[ ,\t]*$/), (spec) => {
        expect(() => parseScenario(spec)).toThrow(/--scenario is empty/);
      }),
    );
    expect(() => parseScenario('messy,,late=0.1')).toThrow(/--scenario has an empty part/);
    expect(() => parseScenario('late=0.1,')).toThrow(/--scenario has an empty part/);
    expect(() => parseScenario('merchants=Amazon++Uber')).toThrow(/merchants has an empty name/);
    expect(parseScenario('clean').spanMs).toBe(0);
    expect(parseScenario('messy, late=0.3').scenario.lateShare).toBe(0.3);
    expect(() => checkSendFlags({ scenario: ',,,' })).toThrow(/--scenario is empty/);
  });
});

describe('the results hint after a send reaches the oldest event sent', () => {
  const now = Date.parse('2026-12-03T17:25:00Z');
  // Adversary: `send --scenario late` spreads event times back by half an hour; the old hint said
  // `--since 10m` whatever was sent, and those results left most of the late events out.
  it('is 10m for recent events and covers older ones', () => {
    expect(sinceCovering(null, now)).toBe('10m');
    expect(sinceCovering('2026-12-03T17:24:10Z', now)).toBe('10m');
    expect(sinceCovering('2026-12-03T16:55:00Z', now)).toBe('31m');
    expect(sinceCovering('2026-12-03T14:00:30Z', now)).toBe('4h');
    expect(sinceCovering('not a time', now)).toBe('10m');
  });
});
