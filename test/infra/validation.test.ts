/**
 * The checks that gate synthesis: cdk-nag (AwsSolutions) plus CDK's built-in CloudFormation
 * template validation on the real app, every acknowledgement matched to a real finding (none
 * stale, none missing from docs/infra.md), and cfn-lint where it is installed — for the built-in
 * dev environment (no KMS key, buckets deleted on destroy) and a production one (customer-managed
 * key, retained data, termination protection), whose findings differ.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/pipeline/config.js';
import { buildApp } from '../../src/infra/app.js';
import type { Acknowledgement } from '../../src/infra/pipeline-stack.js';

interface Report {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
  }>;
}

const CONFIGS = [
  ['dev', resolveConfig()],
  ['prod', resolveConfig({ environment: 'prod' })],
] as const;
const root = join(import.meta.dirname, '..', '..');
const stub = join(import.meta.dirname, 'fixtures', 'stub-handler.ts');
const hasCfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;

describe.each(CONFIGS)('%s: the real app with validation on', (_env, config) => {
  let outdir: string;
  let templatePath: string;
  let acknowledgements: Acknowledgement[];

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'paypipe-nag-'));
    const { app, stack } = buildApp(config, { outdir });
    acknowledgements = stack.acknowledgements;
    // Throws (in-memory app mode) on any finding that is neither fixed nor acknowledged.
    const assembly = app.synth();
    templatePath = assembly.getStackArtifact(stack.artifactId).templateFullPath;
  }, 180_000);

  it('synthesizes with no unacknowledged cdk-nag finding and no template validation error', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as Report;
    const failing = report.pluginReports.filter((r) => r.conclusion === 'failure' || r.violations.length > 0);
    expect(failing).toEqual([]);
    expect(existsSync(templatePath)).toBe(true);
    expect(acknowledgements.length).toBeGreaterThan(0);
  });

  it('lists every acknowledgement with its reason in docs/infra.md', () => {
    const docs = readFileSync(join(root, 'docs', 'infra.md'), 'utf8');
    for (const a of acknowledgements) {
      expect(docs, a.id).toContain(a.id);
      expect(docs, `reason for ${a.id}`).toContain(a.reason);
    }
  });

  it.skipIf(!hasCfnLint)(
    'passes cfn-lint (W3005, redundant DependsOn emitted by CDK, ignored)',
    () => {
      const r = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', templatePath], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    },
    120_000,
  );
  // The pass above covers the query resources too, and is not vacuous for them: cfn-lint knows
  // their schemas, so a bad value in the workgroup or a table is reported.
  it.skipIf(!hasCfnLint)(
    'cfn-lint checks the Glue and Athena resources (a broken copy of the template fails)',
    () => {
      type Props = {
        WorkGroupConfiguration: {
          BytesScannedCutoffPerQuery: number;
          ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: string } };
        };
        TableInput: { TableType: unknown };
      };
      const t = JSON.parse(readFileSync(templatePath, 'utf8')) as {
        Resources: Record<string, { Type: string; Properties: Props }>;
      };
      const types = Object.values(t.Resources).map((r) => r.Type);
      for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
        expect(types).toContain(type);
      }
      for (const r of Object.values(t.Resources)) {
        if (r.Type === 'AWS::Athena::WorkGroup') {
          r.Properties.WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration.EncryptionOption =
            'ROT13';
          r.Properties.WorkGroupConfiguration.BytesScannedCutoffPerQuery = 5;
        }
        if (r.Type === 'AWS::Glue::Table') r.Properties.TableInput.TableType = 42;
      }
      const broken = join(outdir, 'broken.template.json');
      writeFileSync(broken, JSON.stringify(t));
      const r = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', broken], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stdout).toContain("'ROT13' is not one of");
      // Athena's floor, which the queryBytesScannedCutoff setting's range repeats.
      expect(r.stdout).toContain('5 is less than the minimum of 10000000');
      expect(r.stdout).toContain("42 is not one of ['EXTERNAL_TABLE'");
    },
    120_000,
  );
  if (!hasCfnLint) console.warn('cfn-lint not on PATH: skipped the cfn-lint check of the template');
});

describe.each(CONFIGS)('%s: acknowledgements', (_env, config) => {
  let findings: Array<{ rule: string; path: string }>;
  let acknowledgements: Acknowledgement[];
  let error: unknown;

  beforeAll(() => {
    const outdir = mkdtempSync(join(tmpdir(), 'paypipe-nag-raw-'));
    // Same stack, acknowledgements recorded but not applied: every finding comes through.
    const { app, stack } = buildApp(config, {
      outdir,
      entries: { producer: stub, aggregator: stub },
      applyAcknowledgements: false,
    });
    acknowledgements = stack.acknowledgements;
    const before = process.env.CDK_VALIDATION;
    // Only cdk-nag matters here; CDK's own template validation already ran above.
    process.env.CDK_VALIDATION = 'false';
    try {
      app.synth();
    } catch (e) {
      error = e;
    } finally {
      if (before === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = before;
    }
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as Report;
    findings = report.pluginReports
      .filter((r) => r.pluginName === 'AwsSolutions')
      .flatMap((r) =>
        r.violations.flatMap((v) =>
          v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath })),
        ),
      );
  }, 180_000);

  const covers = (a: Acknowledgement, f: { rule: string; path: string }): boolean =>
    a.id === f.rule && (f.path === a.path || f.path.startsWith(`${a.path}/`));

  it('without them, cdk-nag fails the synthesis', () => {
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toContain('AwsSolutions');
    expect(findings.length).toBeGreaterThan(0);
  });

  it('each finding is acknowledged where it arises, and each acknowledgement answers a finding', () => {
    const unacknowledged = findings.filter((f) => !acknowledgements.some((a) => covers(a, f)));
    expect(unacknowledged).toEqual([]);
    const stale = acknowledgements.filter((a) => !findings.some((f) => covers(a, f)));
    expect(stale).toEqual([]);
  });

  it('acknowledges no rule stack-wide and gives every one a reason', () => {
    for (const a of acknowledgements) {
      expect(a.path).not.toBe(config.stackName);
      expect(a.reason.length).toBeGreaterThan(40);
    }
  });
});
