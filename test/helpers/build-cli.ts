/**
 * A private build of the CLI for the CLI tests: the same esbuild transpile as `npm run build`, into
 * a temp dir (with package.json, bin/ and a node_modules link), so these tests never race another
 * suite's `npm run build` wiping dist/. Under `vitest run` the build is made once for the whole run
 * (test/global-setup.ts) and copied here; a copy, because suites write into their dir.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

export interface BuiltCli {
  dir: string;
  bin: string;
  cleanup(): void;
}

export async function buildCli(): Promise<BuiltCli> {
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-cli-'));
  // The project's own build (per-module files + the bundled CLI entry), into this private dir.
  const shared = inject('paypipeBuiltDist');
  if (shared !== undefined && existsSync(join(shared, 'cli', 'entry.js'))) {
    cpSync(shared, join(dir, 'dist'), { recursive: true });
  } else {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--out', join(dir, 'dist')], {
      cwd: root,
    });
  }
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(root, 'bin', 'paypipe.js'), join(dir, 'bin', 'paypipe.js'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // `up` and `demo` run the stack's bundles: they synthesize from src/ (cached by content).
  symlinkSync(join(root, 'src'), join(dir, 'src'), 'dir');
  symlinkSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
  return {
    dir,
    bin: join(dir, 'bin', 'paypipe.js'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with no AWS credentials or region from the machine (unless given in env). */
export function runCli(
  cli: BuiltCli,
  args: string[],
  o: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: cli.dir,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
      NO_COLOR: '1',
      ...o.env,
    };
    const child = spawn(process.execPath, [cli.bin, ...args], { cwd: o.cwd ?? cli.dir, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`paypipe ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
    }, o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
