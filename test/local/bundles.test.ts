/**
 * The local pipeline runs what a deploy uploads: the cloud assembly's bundles, loaded like the
 * Lambda Node.js runtime loads them, with the template's environment, memory, timeout and role.
 * Adversaries: a bundle that cannot load on Lambda (an external the runtime lacks, present in this
 * checkout's node_modules), a handler that never returns (not even to the event loop), a template
 * whose environment or settings differ from the config — each must show locally as it would on AWS.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashDirectory, templateOf } from '../../src/local/assembly.js';
import type { LogEvent } from '../../src/local/function-runtime.js';
import { listFailedBatches } from '../../src/local/failed-batches.js';
import {
  makeEvents,
  sendEvents,
  startTestPipeline,
  type TestPipeline,
  testAssembly,
} from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

type Template = {
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};

const dirs: string[] = [];
let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.cleanup();
  p = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the test assembly, changed by `edit` (template and bundles are plain files). */
async function variant(edit: (dir: string, t: Template, save: () => void) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-asm-'));
  dirs.push(dir);
  cpSync(await testAssembly(), dir, { recursive: true });
  const file = templateOf(dir, 'paypipe-dev');
  const t = JSON.parse(readFileSync(file, 'utf8')) as Template;
  edit(dir, t, () => writeFileSync(file, JSON.stringify(t)));
  return dir;
}

const fnResource = (t: Template, name: string) =>
  Object.values(t.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === name,
  ) as { Properties: Record<string, unknown>; Metadata: Record<string, string> };

const assetOf = (dir: string, t: Template, name: string): string =>
  join(dir, fnResource(t, name).Metadata['aws:asset:path'] as string);

const logLines = (dataDir: string, fn: string): string[] =>
  readFileSync(join(dataDir, 'logs', `${fn}.ndjson`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as LogEvent).message);

describe('the local pipeline runs the synthesized bundles', () => {
  it('loads each function from its code asset with the template environment, memory and handler', async () => {
    let asset = '';
    const dir = await variant((d, t, save) => {
      const producer = fnResource(t, 'paypipe-dev-producer');
      asset = assetOf(d, t, 'paypipe-dev-producer');
      // A probe in place of the producer's bundle, under a handler string of the template's choosing.
      writeFileSync(
        join(asset, 'probe.mjs'),
        'export const run = { it: async (event, context) => ({ env: process.env, memory: context.memoryLimitInMB, left: context.getRemainingTimeInMillis(), event }) };\n',
      );
      producer.Properties.Handler = 'probe.run.it';
      producer.Properties.MemorySize = 384;
      (producer.Properties.Environment as { Variables: Record<string, unknown> }).Variables.EXTRA = {
        'Fn::Join': ['-', [{ Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }]],
      };
      save();
    });
    p = await startTestPipeline({ assembly: dir });
    const out = (await p.invokeProducer({ count: 3 })) as unknown as {
      env: Record<string, string>;
      memory: string;
      left: number;
      event: unknown;
    };
    expect(out.event).toEqual({ count: 3 });
    expect(out.memory).toBe('384');
    expect(out.left).toBeGreaterThan(50_000);
    expect(out.left).toBeLessThanOrEqual(60_000);
    // The template's variables, Refs resolved to the local stream; Lambda's own variables.
    expect(out.env.INPUT_STREAM_NAME).toBe(p.config.streams.input.name);
    expect(out.env.EVENTS_PER_INVOCATION).toBe(String(p.config.producer.eventsPerInvocation));
    expect(out.env.EXTRA).toBe(`${p.config.region}-000000000000`);
    expect(out.env.AWS_LAMBDA_FUNCTION_NAME).toBe('paypipe-dev-producer');
    expect(out.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE).toBe('384');
    expect(out.env._HANDLER).toBe('probe.run.it');
    expect(out.env.LAMBDA_TASK_ROOT).toBe('/var/task');
    // Nothing of this machine's environment leaks in (on Lambda there is none of it).
    expect(out.env.HOME).toBeUndefined();
    expect(Object.keys(out.env).filter((k) => k.startsWith('VITEST'))).toEqual([]);
    const st = p.status();
    expect(st.functions?.producer.bundleHash).toBe(hashDirectory(asset));
    expect(st.functions?.producer.memoryMiB).toBe(384);
  });

  it('a bundle importing a package the Lambda runtime lacks fails with the runtime error, loudly', async () => {
    // commander is in this checkout's node_modules: only a loader that resolves like Lambda (from
    // the task root alone) fails here as the deployed function would.
    const dir = await variant((d, t) => {
      const file = join(assetOf(d, t, 'paypipe-dev-aggregator'), 'index.mjs');
      writeFileSync(file, `import 'commander';\n${readFileSync(file, 'utf8')}`);
    });
    p = await startTestPipeline({ assembly: dir });
    await sendEvents(p, makeEvents(20, { startMs: Date.now() - 60_000, spanMs: 60_000 }));
    const fault = await p.fault;
    expect(fault.kind).toBe('function-init');
    expect(fault.message).toContain(
      "Runtime.ImportModuleError: Error: Cannot find package 'commander' imported from /var/task/index.mjs",
    );
    // The runtime's own lines, as CloudWatch would show them (the log file is written as they come).
    const pipeline = p;
    const lines = await waitFor(() => {
      const l = logLines(pipeline.dataDir, 'aggregator');
      return l.some((x) => x.startsWith('INIT_REPORT')) && l;
    }, 'the INIT_REPORT line');
    expect(
      lines.some((l) =>
        /\tERROR\tUncaught Exception \t\{"errorType":"Runtime\.ImportModuleError","errorMessage":"Error: Cannot find package 'commander' imported from \/var\/task\/index\.mjs"/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(
      lines.some((l) =>
        /^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime\.ImportModuleError$/.test(
          l,
        ),
      ),
    ).toBe(true);
  });

  it('a handler past the template timeout is stopped (even a busy loop) and retried as a Lambda timeout', async () => {
    const dir = await variant((d, t, save) => {
      const agg = fnResource(t, 'paypipe-dev-aggregator');
      agg.Properties.Timeout = 1;
      // Never yields: an in-process race could not stop it; a terminated environment can.
      writeFileSync(
        join(assetOf(d, t, 'paypipe-dev-aggregator'), 'index.mjs'),
        'export const handler = async () => { for (;;) {} };\n',
      );
      save();
    });
    p = await startTestPipeline({ assembly: dir, configOverrides: { shardCount: 1, retryAttempts: 1 } });
    expect(p.status().functions?.aggregator.timeoutSeconds).toBe(1);
    await sendEvents(p, makeEvents(1, { startMs: Date.now() - 60_000, spanMs: 60_000 }));
    await p.waitForIdle({ timeoutMs: 20_000 });
    const failed = await listFailedBatches(p.dataDir);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(failed[0]?.requestContext.approximateInvokeCount).toBe(2);
    expect(p.status().aggregator.retries).toBe(1);
    const pipeline = p;
    const lines = await waitFor(() => {
      const l = logLines(pipeline.dataDir, 'aggregator');
      return l.filter((x) => x.startsWith('REPORT')).length >= 2 && l;
    }, 'two REPORT lines');
    expect(lines.filter((l) => /Task timed out after 1\.00 seconds$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /\tStatus: timeout$/.test(l))).toHaveLength(2);
  });

  it('a run-time timeout knob differing from the synthesized configuration wins and is reported', async () => {
    p = await startTestPipeline({ configOverrides: { aggregatorTimeoutSeconds: 7 } });
    expect(p.status().functions?.aggregator).toMatchObject({
      timeoutSeconds: 7,
      overridden: ['timeoutSeconds 7 (template 60)'],
    });
    expect(p.status().functions?.producer.overridden).toBeUndefined();
  });
});

describe('the assembly cache', () => {
  it('synthesizes on a miss, reuses while the sources are unchanged, and says so when there is no src/', async () => {
    const { prepareLocalAssembly, sourceKey } = await import('../../src/cli/local-assembly.js');
    const { resolveConfig } = await import('../../src/pipeline/config.js');
    const cfg = resolveConfig({});
    const first = await prepareLocalAssembly(cfg);
    const again = await prepareLocalAssembly(cfg);
    expect(again).toMatchObject({ dir: first.dir, key: first.key, synthesized: false });
    // Another configuration is another assembly (its template differs).
    expect(sourceKey(resolveConfig({ aggregatorTimeoutSeconds: 30 }))).not.toBe(first.key);
    const empty = mkdtempSync(join(tmpdir(), 'paypipe-nosrc-'));
    dirs.push(empty);
    await expect(prepareLocalAssembly(cfg, { root: empty, cacheDir: empty })).rejects.toMatchObject({
      code: 'IO',
      hint: expect.stringContaining('--assembly'),
    });
  });
});
