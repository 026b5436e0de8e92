/**
 * `paypipe invoke`: sample events shaped as the pipeline delivers them, bad --event input as one
 * usage line, and a local invocation through the running pipeline's runtime (the same bundle, the
 * same role checks). Adversaries: a sample the handler would never see in the pipeline, an event
 * file that is not JSON, a local invoke that runs other code than the running pipeline.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEventFor, type InvokeResult, runInvoke, sampleEvent } from '../../../src/cli/invoke/invoke.js';
import { validateRecord } from '../../../src/domain/event.js';
import { resolveConfig } from '../../../src/pipeline/config.js';
import { startTestPipeline, type TestPipeline } from '../../helpers/local-pipeline.js';
import { quietIo } from '../../helpers/io.js';

const config = resolveConfig({});
const at = { region: 'ap-southeast-2', accountId: '123456789012', nowMs: Date.UTC(2024, 0, 15, 10, 30) };

describe('sample events', () => {
  it('the aggregator gets a Kinesis batch of generated payments, with --scenario malformed records among them', () => {
    const e = sampleEvent(
      'aggregator',
      { seed: 7, count: 50, scenario: 'malformed=0.5' },
      config,
      at,
    ) as KinesisStreamEvent;
    expect(e.Records).toHaveLength(50);
    const seqs = e.Records.map((r) => r.kinesis.sequenceNumber);
    expect([...seqs].sort()).toEqual(seqs);
    expect(new Set(seqs).size).toBe(50);
    let bad = 0;
    for (const r of e.Records) {
      expect(r.eventSource).toBe('aws:kinesis');
      expect(r.eventID).toBe(`shardId-000000000000:${r.kinesis.sequenceNumber}`);
      expect(r.eventSourceARN).toBe(
        'arn:aws:kinesis:ap-southeast-2:123456789012:stream/paypipe-dev-input-stream',
      );
      const v = validateRecord(Buffer.from(r.kinesis.data, 'base64'), {
        arrivalMs: at.nowMs,
        maxFutureSkewMs: 86_400_000,
      });
      if (!v.ok) bad++;
    }
    expect(bad).toBeGreaterThan(5);
    expect(bad).toBeLessThan(45);
    // Same seed, same batch.
    expect(sampleEvent('aggregator', { seed: 7, count: 50, scenario: 'malformed=0.5' }, config, at)).toEqual(
      e,
    );
  });

  it('the producer gets the EventBridge scheduled event, or {count} as `schedule --count` sets it', () => {
    expect(sampleEvent('producer', { seed: 1 }, config, at)).toMatchObject({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2024-01-15T10:30:00Z',
      detail: {},
    });
    expect(sampleEvent('producer', { seed: 1, count: 5 }, config, at)).toEqual({ count: 5 });
  });
});

/**
 * Adversary: an event file meant for the other function. The producer reads only count and seed,
 * so a Kinesis batch ran there as a count-less schedule event (the default number of payments sent
 * for real); a schedule event given to the aggregator ran as an empty batch. Checked before the
 * target: no pipeline (the data dir here has none) and no credentials are needed to be told.
 */
describe('an --event of the wrong shape', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'paypipe-invoke-shape-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, event: unknown): string => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(event));
    return file;
  };
  const noPipeline = (): { local: true; dataDir: string; seed: number } => ({
    local: true,
    dataDir: join(dir, 'none'),
    seed: 1,
  });

  it('invoke producer with a Kinesis batch: one usage line naming the file, its shape and what the producer takes', async () => {
    const file = write('batch.json', sampleEvent('aggregator', { seed: 1, count: 3 }, config, at));
    const run = runInvoke('producer', { ...noPipeline(), event: file }, quietIo());
    await expect(run).rejects.toMatchObject({
      code: 'USAGE',
      message: `--event ${file} is a Kinesis batch event ({"Records": [{"kinesis": …}]}, 3 records); the producer expects a schedule event: EventBridge's Scheduled Event, or the rule's input {"count": n}`,
      hint: 'see one with `paypipe invoke producer --print-event`',
    });
    // Also when only printing it: the file is wrong for this function either way.
    await expect(
      runInvoke('producer', { ...noPipeline(), event: file, printEvent: true }, quietIo()),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('invoke aggregator with a schedule event (EventBridge, or the rule input): one usage line', async () => {
    const scheduled = write('scheduled.json', sampleEvent('producer', { seed: 1 }, config, at));
    await expect(
      runInvoke('aggregator', { ...noPipeline(), event: scheduled }, quietIo()),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: `--event ${scheduled} is an EventBridge Scheduled Event (a schedule event); the aggregator expects a Kinesis batch event: {"Records": [{"kinesis": {…}}, …]}`,
    });
    const input = write('count.json', { count: 5 });
    await expect(runInvoke('aggregator', { ...noPipeline(), event: input }, quietIo())).rejects.toMatchObject(
      {
        code: 'USAGE',
        message: expect.stringMatching(
          / is a schedule rule's input \(\{"count": …\}\); the aggregator expects /,
        ),
      },
    );
  });

  it('each function takes its own samples and refuses the other’s, and anything else (property)', () => {
    const refused = (fn: 'producer' | 'aggregator', e: unknown): boolean => {
      try {
        checkEventFor(fn, e, 'event.json');
        return false;
      } catch (err) {
        expect(err).toMatchObject({
          code: 'USAGE',
          message: expect.stringMatching(/^--event event\.json is /),
        });
        expect((err as Error).message).not.toContain('\n');
        return true;
      }
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
        (seed, count) => {
          const batch = sampleEvent('aggregator', { seed, count: count ?? 10 }, config, at);
          const schedule = sampleEvent(
            'producer',
            { seed, ...(count === undefined ? {} : { count }) },
            config,
            at,
          );
          expect(refused('aggregator', batch)).toBe(false);
          expect(refused('producer', batch)).toBe(true);
          expect(refused('producer', schedule)).toBe(false);
          expect(refused('aggregator', schedule)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
    // Hostile shapes: neither function's event.
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constant(null),
          fc.array(fc.anything()),
          fc.string(),
          fc.double(),
          fc.boolean(),
          fc.record({
            Records: fc.array(fc.record({ eventSource: fc.constant('aws:sqs'), body: fc.string() }), {
              minLength: 1,
            }),
          }),
          fc.record({
            'detail-type': fc.constant('Object Created'),
            source: fc.constant('aws.s3'),
            detail: fc.object(),
          }),
          fc.record({ transaction_id: fc.string(), amount: fc.double() }),
        ),
        (e) => {
          expect(refused('producer', e)).toBe(true);
          expect(refused('aggregator', e)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('invoke --local', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline({ statusIntervalMs: 100 });
  });
  afterAll(() => p.cleanup());

  it("runs the running pipeline's bundle with its role, and returns the response and the log lines", async () => {
    const r = (await runInvoke(
      'aggregator',
      { local: true, dataDir: p.dataDir, seed: 3, count: 20 },
      quietIo(),
    )) as InvokeResult;
    expect(r.where).toBe('local');
    expect(r.error).toBeUndefined();
    expect(r.response).toEqual({ batchItemFailures: [] });
    expect(r.bundleHash).toBe(p.status().functions?.aggregator.bundleHash);
    expect(r.logs[0]).toMatch(/^START RequestId: /);
    expect(r.logs.at(-1)).toMatch(/^REPORT RequestId: .*\tMemory Size: 512 MB\t/);
    expect(r.logs.some((l) => l.includes('"aggregated batch"'))).toBe(true);
    expect(r.accessDenied).toBeUndefined();
  });

  it('an --event file that is not JSON is one usage line', async () => {
    const file = join(p.dataDir, 'bad.json');
    writeFileSync(file, '{"Records": [');
    await expect(
      runInvoke('aggregator', { local: true, dataDir: p.dataDir, seed: 1, event: file }, quietIo()),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/^--event .*bad\.json is not JSON: /),
    });
    await expect(
      runInvoke(
        'aggregator',
        { local: true, dataDir: p.dataDir, seed: 1, event: join(p.dataDir, 'none.json') },
        quietIo(),
      ),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/cannot be read: ENOENT$/),
    });
  });

  it("a handler error comes back as Lambda's error document", async () => {
    const file = join(p.dataDir, 'bad-count.json');
    writeFileSync(file, '{"count": -1}');
    const r = (await runInvoke(
      'producer',
      { local: true, dataDir: p.dataDir, seed: 1, event: file },
      quietIo(),
    )) as InvokeResult;
    expect(r.error?.errorType).toBe('RangeError');
    expect(r.response).toEqual(r.error);
    expect(r.error?.trace?.[0]).toMatch(/^RangeError: /);
    expect(r.logs.some((l) => /\tERROR\tInvoke Error \t\{"errorType":"RangeError"/.test(l))).toBe(true);
  });
});
