/**
 * Deterministic assets. The adversary: a second checkout of the same commit at another path (CI,
 * another laptop). Its `paypipe synth` must give byte-identical templates — so identical Lambda
 * asset hashes — and its bundles must carry no path of the checkout, of node_modules or of the
 * temp directory, and no source maps. Then `diff` right after a deploy is empty: the toolkit's diff
 * of this checkout's stack against the template the other checkout produced (what a deploy from
 * there would have uploaded) finds no difference.
 *
 * Each copy holds the sources (bin, scripts, src, package files) with node_modules linked to this
 * checkout's, is built with the project build, and synthesizes through its own bin.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DiffMethod } from '@aws-cdk/toolkit-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBinHermetic } from '../helpers/cli.js';
import { Io } from '../../src/cli/io.js';
import { summarizeDiff, type TemplateDiffLike } from '../../src/cli/stack/diff.js';
import { infraTarget } from '../../src/cli/stack/target.js';
import { assemblySource, makeToolkit, stackSelector } from '../../src/cli/stack/toolkit.js';
import { repoRoot } from '../helpers/build.js';

interface Checkout {
  root: string;
  out: string;
  template: string;
  templateJson: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
}

const checkouts: Checkout[] = [];

function copyCheckout(root: string): void {
  mkdirSync(root, { recursive: true });
  for (const entry of ['bin', 'scripts', 'src', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    cpSync(join(repoRoot, entry), join(root, entry), { recursive: true });
  }
  symlinkSync(realpathSync(join(repoRoot, 'node_modules')), join(root, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'ignore' });
}

function synth(root: string, out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runBinHermetic(join(root, 'bin', 'paypipe.js'), ['synth', '--out', out, '--json'], {
    cwd: root,
    env: { CDK_VALIDATION: 'false' },
  });
}

beforeAll(async () => {
  const base = mkdtempSync(join(tmpdir(), 'paypipe-assets-'));
  // Different depths and lengths, so any embedded path or relative path between dirs differs.
  const roots = [
    join(base, 'a', 'paypipe'),
    join(base, 'a-much-longer-directory-name', 'x', 'y', 'checkout'),
  ];
  for (const root of roots) {
    copyCheckout(root);
    const out = join(root, 'cdk.out');
    const r = await synth(root, out);
    expect(r.code, r.stderr).toBe(0);
    const { templatePath } = JSON.parse(r.stdout) as { templatePath: string };
    const template = readFileSync(templatePath, 'utf8');
    checkouts.push({ root, out, template, templateJson: JSON.parse(template) });
  }
}, 600_000);

/** The producer's and aggregator's code assets (CDK's own providers have no FunctionName). */
const lambdaAssets = (c: Checkout): string[] =>
  Object.values(c.templateJson.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.FunctionName !== undefined)
    .map((r) => (r.Properties === undefined ? '' : (r.Properties.Code as { S3Key: string }).S3Key))
    .sort();

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('two checkouts of the same sources at different paths', () => {
  it('synthesize byte-identical templates, so identical Lambda asset hashes', () => {
    const [a, b] = checkouts as [Checkout, Checkout];
    expect(lambdaAssets(a)).toHaveLength(2);
    expect(lambdaAssets(b)).toEqual(lambdaAssets(a));
    expect(b.template).toBe(a.template);
  });

  it('bundle no source maps and no path of the checkout, node_modules, the temp dir or home', () => {
    for (const c of checkouts) {
      const forbidden = [
        c.root,
        realpathSync(c.root),
        realpathSync(join(repoRoot, 'node_modules')),
        repoRoot.replace(/\/$/, ''),
        tmpdir(),
        homedir(),
        '/node_modules/',
      ];
      for (const key of lambdaAssets(c)) {
        const dir = join(c.out, `asset.${key.replace(/\.zip$/, '')}`);
        const files = filesUnder(dir);
        expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['index.mjs']);
        const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
        expect(code).not.toContain('sourceMappingURL');
        for (const p of forbidden) expect(code.includes(p), `${key} contains ${p}`).toBe(false);
      }
    }
  });
});

describe('diff right after a deploy', () => {
  it("is empty: the toolkit's diff of this checkout against the other checkout's template", async () => {
    let err = '';
    const io = new Io({
      stdout: new Writable({ write: (_c, _e, cb) => cb() }),
      stderr: new Writable({
        write(c, _e, cb) {
          err += String(c);
          cb();
        },
      }),
      env: {},
    });
    const target = infraTarget({}, {});
    const { toolkit, host } = makeToolkit(io, target);
    const deployed = join(checkouts[0]?.out ?? '', `${target.stackName}.template.json`);
    const source = await assemblySource(toolkit, target.config, { purpose: 'diff' });
    const diffs = (await toolkit.diff(source, {
      stacks: stackSelector(target.stackName),
      method: DiffMethod.LocalFile(deployed),
    })) as unknown as Record<string, TemplateDiffLike>;
    const r = summarizeDiff(diffs, host.diffTexts, target);
    expect(r.resources, err).toEqual([]);
    expect(r.differenceCount).toBe(0);
  }, 300_000);
});
