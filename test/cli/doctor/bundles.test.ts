/**
 * doctor --local: which bundle is running, and is it the last synth's. Adversary: a cdk.out that a
 * deploy would upload but that holds other code than the local pipeline runs (synthesized before a
 * change, or edited) — doctor must say so rather than pass.
 */
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type DoctorReport } from '../../../src/cli/doctor/checks.js';
import { gatherLocal } from '../../../src/cli/doctor/gather-local.js';
import { knownFact } from '../../../src/cli/doctor/gather-common.js';
import { hashDirectory, templateOf } from '../../../src/local/assembly.js';
import { localFacts } from '../../factories/doctor-facts.js';
import { startTestPipeline, type TestPipeline, testAssembly } from '../../helpers/local-pipeline.js';

const bundleCheck = (r: DoctorReport) => r.checks.find((c) => c.id === 'local.bundles');

describe('the local.bundles check', () => {
  const running = [
    { role: 'producer', functionName: 'p', bundleHash: 'a'.repeat(64), assetHash: '1' },
    { role: 'aggregator', functionName: 'g', bundleHash: 'b'.repeat(64), assetHash: '2' },
  ];
  const judge = (bundles: Parameters<typeof knownFact>[0]) =>
    bundleCheck(buildReport({ ...localFacts(), bundles: knownFact(bundles) as never }));

  it("passes when the running bundles are the last synth's, warns when one differs, fails on AccessDenied", () => {
    const same = judge({
      assembly: '/x',
      functions: running,
      accessDenied: 0,
      lastSynth: {
        dir: 'cdk.out',
        synthesizedAt: 't',
        bundleHashes: { producer: 'a'.repeat(64), aggregator: 'b'.repeat(64) },
      },
    });
    expect(same?.status).toBe('pass');
    expect(same?.evidence).toContain(
      'producer aaaaaaaaaaaa, aggregator bbbbbbbbbbbb, the same as the last synth (cdk.out, t)',
    );
    const differs = judge({
      assembly: '/x',
      functions: running,
      accessDenied: 0,
      lastSynth: {
        dir: 'cdk.out',
        synthesizedAt: 't',
        bundleHashes: { producer: 'a'.repeat(64), aggregator: 'c'.repeat(64) },
      },
    });
    expect(differs?.status).toBe('warn');
    expect(differs?.evidence).toContain('the aggregator differs from the last synth');
    expect(differs?.fix).toContain('`paypipe up --assembly cdk.out');
    expect(judge({ assembly: '/x', functions: running, accessDenied: 0 })?.status).toBe('pass');
    expect(judge({ assembly: '/x', functions: running, accessDenied: 2 })?.status).toBe('fail');
    // No fact (AWS, or an older doctor's facts): no check.
    expect(bundleCheck(buildReport(localFacts()))).toBeUndefined();
  });
});

describe('doctor --local against a running pipeline and a cdk.out', () => {
  let p: TestPipeline;
  let cwd: string;
  beforeAll(async () => {
    p = await startTestPipeline({ statusIntervalMs: 100 });
    cwd = mkdtempSync(join(tmpdir(), 'paypipe-doctor-cwd-'));
    cpSync(await testAssembly(), join(cwd, 'cdk.out'), { recursive: true });
  });
  afterAll(async () => {
    await p.cleanup();
    rmSync(cwd, { recursive: true, force: true });
  });
  const doctor = async () =>
    bundleCheck(
      buildReport(
        await gatherLocal({ local: true, dataDir: p.dataDir }, { probe: false, timeoutMs: 20_000 }, { cwd }),
      ),
    );

  it('names the running bundles and matches them with the last synth; an edited bundle there is a warning', async () => {
    const ok = await doctor();
    expect(ok?.status).toBe('pass');
    expect(ok?.evidence).toContain(`aggregator ${p.assembly.functions.aggregator.bundleHash.slice(0, 12)}`);
    expect(ok?.evidence).toContain('the same as the last synth (cdk.out');
    const tpl = templateOf(join(cwd, 'cdk.out'), 'paypipe-dev');
    expect(tpl).toContain('cdk.out');
    const asset = join(cwd, 'cdk.out', `asset.${p.assembly.functions.aggregator.assetHash}`);
    appendFileSync(join(asset, 'index.mjs'), '\n// changed after the run started\n');
    expect(hashDirectory(asset)).not.toBe(p.assembly.functions.aggregator.bundleHash);
    const changed = await doctor();
    expect(changed?.status).toBe('warn');
    expect(changed?.evidence).toContain('the aggregator differs from the last synth');
  });
});
