/**
 * synth, deploy, destroy and outputs through the built bin (`node bin/paypipe.js`), each in a clean
 * environment: no AWS variables, an empty HOME (no ~/.aws), so "no credentials" is real — including
 * the SDK's metadata-endpoint probes at the end of the default chain.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../../helpers/build.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let home: string;

const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  ...extra,
});

function paypipe(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), cwd = home): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'paypipe.js'), ...args], {
      cwd,
      env,
      // stdin is not a terminal: like CI or a pipe.
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');

beforeAll(() => {
  ensureBuilt();
  home = mkdtempSync(join(tmpdir(), 'paypipe-home-'));
}, 60_000);

describe('paypipe synth', () => {
  it('writes the cloud assembly offline and prints only the template path on stdout', async () => {
    const out = join(home, 'assembly');
    // CDK's own template validation is covered by test/infra; cdk-nag still runs here.
    const r = await paypipe(['synth', '--out', out], cleanEnv({ CDK_VALIDATION: 'false' }));
    expect(r.stderr).not.toMatch(/Error|at .*\.js:\d+/);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([join(out, 'paypipe-dev.template.json')]);
    const template = JSON.parse(readFileSync(lines(r.stdout)[0] as string, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      Outputs: Record<string, { Value: unknown }>;
    };
    const streams = Object.values(template.Resources).filter((x) => x.Type === 'AWS::Kinesis::Stream');
    expect(streams.map((s) => s.Properties?.Name).sort()).toEqual([
      'paypipe-dev-input-stream',
      'paypipe-dev-output-stream',
    ]);
    expect(template.Outputs.Region?.Value).toBe('ap-southeast-2');
    // The bundled Lambda code is in the assembly too.
    const functions = Object.values(template.Resources).filter((x) => x.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(2);
    for (const f of functions) {
      const code = f.Properties?.Code as { S3Key: string };
      const key = code.S3Key.replace(/\.zip$/, '');
      expect(existsSync(join(out, `asset.${key}`))).toBe(true);
    }
  }, 180_000);

  it('--json: one document with the path, directory, stack and region from the flags', async () => {
    const out = join(home, 'assembly-prod');
    const r = await paypipe(
      ['synth', '--out', out, '--env', 'prod', '--region', 'eu-west-1', '--json'],
      cleanEnv({ CDK_VALIDATION: 'false' }),
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, string>;
    expect(doc).toEqual({
      templatePath: join(out, 'paypipe-prod.template.json'),
      outdir: out,
      stackName: 'paypipe-prod',
      region: 'eu-west-1',
    });
    const template = JSON.parse(readFileSync(doc.templatePath as string, 'utf8')) as {
      Outputs: Record<string, { Value: unknown }>;
    };
    expect(template.Outputs.Region?.Value).toBe('eu-west-1');
  }, 180_000);

  it('a bad --env is a one-line usage error (exit 2)', async () => {
    const r = await paypipe(['synth', '--env', 'Prod!']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^paypipe: environment "Prod!"/);
  }, 60_000);
});

describe('without AWS credentials', () => {
  for (const args of [
    ['outputs'],
    ['deploy'],
    ['diff'],
    ['destroy', '--force'],
    ['outputs', '--env', 'prod'],
  ]) {
    it(`paypipe ${args.join(' ')} fails with one line naming the fix (exit 1)`, async () => {
      const r = await paypipe(args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const err = lines(r.stderr);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/^paypipe: no AWS credentials found/);
      for (const fix of [
        'AWS_PROFILE',
        '--profile',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'aws sso login',
      ]) {
        expect(err[0]).toContain(fix);
      }
    }, 60_000);
  }

  it('a named profile that does not exist is named in the error', async () => {
    const r = await paypipe(['outputs', '--profile', 'nosuchprofile']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(/^paypipe: AWS profile "nosuchprofile" gave no credentials/),
    ]);
  }, 60_000);

  it('--json puts the error on stderr as one JSON document', async () => {
    const r = await paypipe(['outputs', '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const doc = JSON.parse(r.stderr) as { error: { code: string; hint: string } };
    expect(doc.error.code).toBe('NO_CREDENTIALS');
    expect(doc.error.hint).toContain('aws sso login');
  }, 60_000);

  describe('with a credentials endpoint that never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let url: string;
    beforeAll(async () => {
      // Accepts connections and never responds: the worst case for the SDK's container probe.
      server = createServer((s) => {
        sockets.add(s);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}/creds`;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('still answers with one line and the process exits', async () => {
      const r = await paypipe(['deploy'], cleanEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url }));
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/^paypipe: no AWS credentials found/)]);
    }, 60_000);
  });
});

describe('paypipe destroy', () => {
  it('without a terminal and without --force is a usage error that says to pass --force (exit 2)', async () => {
    const r = await paypipe(['destroy']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([expect.stringContaining('--force')]);
    expect(r.stderr).toMatch(/^paypipe: destroy of paypipe-dev needs confirmation/);
  }, 60_000);
});

describe('flag validation', () => {
  it('--require-approval accepts only never or broadening', async () => {
    const r = await paypipe(['deploy', '--require-approval', 'sometimes']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(/--require-approval must be one of never, broadening/),
    ]);
  }, 60_000);
});
