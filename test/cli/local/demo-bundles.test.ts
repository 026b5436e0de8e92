/**
 * `paypipe demo` runs the deployment bundles: a deliberately broken bundle (it imports a package
 * the Lambda runtime does not have — one this checkout's node_modules does have) fails the demo
 * with the runtime's own error, in one line, at once rather than at the demo's timeout.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { templateOf } from '../../../src/local/assembly.js';
import { ensureBuilt, repoRoot } from '../../helpers/build.js';
import { testAssembly } from '../../helpers/local-pipeline.js';

const bin = join(repoRoot, 'bin/paypipe.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

let broken: string;
beforeAll(async () => {
  ensureBuilt();
  broken = mkdtempSync(join(tmpdir(), 'paypipe-broken-'));
  cpSync(await testAssembly(), broken, { recursive: true });
  const t = JSON.parse(readFileSync(templateOf(broken, 'paypipe-dev'), 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Properties: { FunctionName?: string }; Metadata?: Record<string, string> }
    >;
  };
  const agg = Object.values(t.Resources).find((r) => r.Properties.FunctionName === 'paypipe-dev-aggregator');
  const file = join(broken, agg?.Metadata?.['aws:asset:path'] as string, 'index.mjs');
  writeFileSync(file, `import 'commander';\n${readFileSync(file, 'utf8')}`);
});
afterAll(() => rmSync(broken, { recursive: true, force: true }));

describe('paypipe demo on a broken bundle', () => {
  it('fails with the error the Lambda runtime prints, one line, exit 1', async () => {
    const started = Date.now();
    const r = await run(['demo', '--assembly', broken, '--count', '100']);
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('paypipe: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      "the aggregator (paypipe-dev-aggregator) failed to start: Runtime.ImportModuleError: Error: Cannot find package 'commander' imported from /var/task/index.mjs",
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // At once, not after the demo's 60 s wait for aggregates.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('--assembly that is not a cloud assembly is a usage error', async () => {
    const r = await run(['demo', '--assembly', tmpdir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a cloud assembly (it has no manifest.json)');
  });
});
