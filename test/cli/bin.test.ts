/**
 * The bin as a user meets it (a private full build, clean environment).
 *
 * Adversaries: a typo (`paypipe resutls`, `results --sinec`): the nearest spelling must survive the
 * one-line error path, which used to cut it off; `paypipe` with no command (exited 0 without
 * help); a reader that closes the pipe early (`paypipe synth 2>&1 | head -1` exited 1 on EPIPE from
 * stderr); an error whose cause is not an Error (`--debug` printed `[object Object]`); a network
 * failure inside the credential check (advised "check [profile …], aws sso login"); `demo --json`
 * totals as display strings ("20,497.15") where `send --json` has exact decimals.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/main.js';
import { PaypipeError } from '../../src/errors.js';
import { type BuiltCli, runCli } from '../helpers/build-cli.js';
import { buildFullCli } from '../helpers/built-cli.js';

const NO_AWS: Record<string, string> = {
  AWS_CONFIG_FILE: '/nonexistent/paypipe-test/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/paypipe-test/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

let cli: BuiltCli;
let scratch: string;
beforeAll(async () => {
  cli = await buildFullCli();
  scratch = mkdtempSync(join(tmpdir(), 'paypipe-bin-'));
}, 60_000);
afterAll(() => {
  cli?.cleanup();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

const lastLine = (s: string): string => s.trim().split('\n').at(-1) ?? '';

describe('typos get the nearest spelling, in the one error line', () => {
  it.each([
    [
      ['resutls'],
      /^paypipe: unknown command 'resutls' \(did you mean `paypipe results`\? see `paypipe --help`\)$/,
    ],
    [['dead-leters'], /did you mean `paypipe dead-letters`\?/],
    [
      ['results', '--sinec', '1h'],
      /^paypipe: unknown option '--sinec' \(did you mean --since\? see `paypipe results --help`\)$/,
    ],
    [['peek', '--folow'], /did you mean --follow\? see `paypipe peek --help`/],
    [['logs', '--levl', 'warn'], /did you mean --level\?/],
    [['send', '--cuont', '5'], /did you mean --count\?/],
  ])('paypipe %j', async (args, line) => {
    const r = await runCli(cli, args, { env: NO_AWS });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(line);
  });

  it('under --json the suggestion is in the hint', async () => {
    const r = await runCli(cli, ['resutls', '--json'], { env: NO_AWS });
    expect(r.code).toBe(2);
    expect(JSON.parse(lastLine(r.stderr))).toMatchObject({
      error: { code: 'USAGE', hint: expect.stringMatching(/did you mean `paypipe results`/) },
    });
  });
});

describe('bare paypipe', () => {
  it('prints the help on stderr and exits 2, like git and the aws CLI', async () => {
    const r = await runCli(cli, [], { env: NO_AWS });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: paypipe \[options\] \[command\]/);
    expect(r.stderr).toMatch(/^\s+results \[options\]/m);
    expect(lastLine(r.stderr)).toBe('paypipe: no command given (pick one of the commands above)');
    // --help itself is still a success, on stdout.
    const help = await runCli(cli, ['--help'], { env: NO_AWS });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: paypipe/);
  });
});

describe('--version', () => {
  // Cold start: the version must not cost the whole CLI. The adversary: a fast path that drifts from
  // what commander prints (the full path still answers `--debug --version`).
  it('prints exactly what the full CLI prints, without loading the CLI entry', async () => {
    const full = await runCli(cli, ['--debug', '--version'], { env: NO_AWS });
    expect(full.code).toBe(0);
    for (const flag of ['--version', '-V']) {
      const r = await runCli(cli, [flag], { env: NO_AWS });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(full.stdout);
      expect(r.stderr).toBe('');
    }
    // With the entry gone, --version still answers (it never loaded it) and --help cannot.
    const bare = mkdtempSync(join(scratch, 'no-entry-'));
    mkdirSync(join(bare, 'bin'));
    copyFileSync(cli.bin, join(bare, 'bin', 'paypipe.js'));
    copyFileSync(join(cli.dir, 'package.json'), join(bare, 'package.json'));
    const v = spawnSync(process.execPath, [join(bare, 'bin', 'paypipe.js'), '--version'], {
      encoding: 'utf8',
    });
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(full.stdout);
    const h = spawnSync(process.execPath, [join(bare, 'bin', 'paypipe.js'), '--help'], { encoding: 'utf8' });
    expect(h.status).not.toBe(0);
  });
});

describe('--help', () => {
  // Cold start: the top-level help is the page the build rendered from the same entry. Adversaries: a
  // page that drifts from what the CLI prints live (a command added, a description changed), and a
  // fast path that is never taken.
  it('prints exactly what the CLI renders live, from the page the build rendered', async () => {
    const live = await runCli(cli, ['--help'], { env: { ...NO_AWS, PAYPIPE_HELP_CACHE: 'off' } });
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/^Usage: paypipe \[options\] \[command\]/);
    for (const flag of ['--help', '-h']) {
      const r = await runCli(cli, [flag], { env: NO_AWS });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(live.stdout);
      expect(r.stderr).toBe('');
    }
    // The page is what is printed: a copy of the build with another page prints that page.
    const copy = mkdtempSync(join(scratch, 'help-page-'));
    cpSync(cli.dir, copy, { recursive: true, dereference: false, verbatimSymlinks: true });
    writeFileSync(join(copy, 'dist', 'cli', 'help-80.txt'), 'the rendered page\n');
    const h = spawnSync(process.execPath, [join(copy, 'bin', 'paypipe.js'), '--help'], { encoding: 'utf8' });
    expect(h.status).toBe(0);
    expect(h.stdout).toBe('the rendered page\n');
    // Subcommand help and other argv still go through the CLI.
    const sub = spawnSync(process.execPath, [join(copy, 'bin', 'paypipe.js'), 'send', '--help'], {
      encoding: 'utf8',
    });
    expect(sub.stdout).toMatch(/^Usage: paypipe send/);
  });
});

describe('a closed pipe is not a failure', () => {
  // Reported as `paypipe synth 2>&1 | head -1` (exit 1): the reader of stderr leaves after one line
  // and the next progress line hits EPIPE. `up` writes its banner to stderr right after its first
  // line, so it meets the same closed stderr within seconds (a synthesis takes much longer); the
  // command must carry on, and end with its own exit status.
  it('stderr closed after the first line: the command carries on and exits 0', {
    timeout: 120_000,
  }, async () => {
    const dataDir = join(scratch, 'pipe-up');
    const child = spawn(process.execPath, [cli.bin, 'up', '--no-schedule', '--data-dir', dataDir], {
      cwd: scratch,
      env: { PATH: process.env.PATH ?? '', HOME: scratch, NO_COLOR: '1', ...NO_AWS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    let first = '';
    child.stderr.once('data', (d) => {
      first = String(d);
      child.stderr.destroy(); // `| head -1`: the reader is gone
    });
    const exit = new Promise<number | null>((res) => child.on('close', res));
    const endpoints = join(dataDir, 'endpoints.json');
    const deadline = Date.now() + 90_000;
    while (!existsSync(endpoints) && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(first).toMatch(/Starting the local pipeline/);
    expect(child.exitCode, stdout).toBeNull();
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stdout).toMatch(/Local pipeline stopped cleanly/);
  });
});

describe('errors from below: never [object Object], never credentials advice for the network', () => {
  // A role profile whose STS call cannot connect: the credential check fails with the network error
  // as text, and its cause is a plain object, not an Error.
  const config = (): string => {
    const f = join(scratch, 'aws-config');
    writeFileSync(
      f,
      [
        '[profile base]',
        'aws_access_key_id = AKIAEXAMPLEEXAMPLE',
        'aws_secret_access_key = secret',
        'region = ap-southeast-2',
        '[profile role]',
        'role_arn = arn:aws:iam::123456789012:role/paypipe-test',
        'source_profile = base',
        'region = ap-southeast-2',
        '',
      ].join('\n'),
    );
    return f;
  };

  it('a network failure in the credential check says network, and --debug shows the cause', async () => {
    const env = {
      ...NO_AWS,
      AWS_CONFIG_FILE: config(),
      // Port 9 (discard) on loopback: refused at once, no DNS, no internet needed.
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    };
    const r = await runCli(cli, ['results', '--profile', 'role', '--debug'], { env });
    expect(r.code).toBe(1);
    const first = r.stderr.split('\n')[0] ?? '';
    expect(first).toMatch(/^paypipe: AWS profile "role" gave no credentials: .*ECONNREFUSED/);
    expect(first).toMatch(/\(check the network/);
    expect(first).not.toMatch(/sso login|check \[profile/);
    expect(r.stderr).not.toContain('[object Object]');
    expect(r.stderr).toMatch(/ECONNREFUSED 127\.0\.0\.1:9/);
  });

  it('reportError describes any thrown value', () => {
    let out = '';
    const sink = {
      write: (s: string) => {
        out += s;
        return true;
      },
    } as unknown as Parameters<typeof reportError>[2];
    const plain = { ok: false, name: 'Error', message: 'socket hang up', code: 'ECONNRESET' };
    expect(reportError(new PaypipeError('AWS', 'listing failed', { cause: plain }), ['--debug'], sink)).toBe(
      1,
    );
    expect(reportError({ reason: 'weird', nested: { deep: 1 } }, ['--debug'], sink)).toBe(1);
    expect(reportError('just a string', [], sink)).toBe(1);
    expect(out).not.toContain('[object Object]');
    expect(out).toContain("message: 'socket hang up'");
    expect(out).toMatch(/paypipe: unexpected error: \{ reason: 'weird', nested: \{ deep: 1 \} \}/);
    expect(out).toContain('paypipe: unexpected error: just a string');
  });
});

describe('demo --json', () => {
  it('gives totals as exact decimal strings, like send --json', { timeout: 120_000 }, async () => {
    const r = await runCli(cli, ['demo', '--json', '--count', '400', '--malformed', '0'], {
      env: NO_AWS,
      timeoutMs: 110_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      checks: Array<{ currency: string; expectedTotal: string; actualTotal: string; ok: boolean }>;
    };
    expect(doc.checks.length).toBeGreaterThan(0);
    for (const c of doc.checks) {
      expect(c.expectedTotal, c.currency).toMatch(/^\d+(\.\d{2,3})?$/);
      expect(c.actualTotal).toBe(c.expectedTotal);
    }
    // Big enough that a display string would have had a thousands separator.
    expect(doc.checks.some((c) => Number(c.expectedTotal) >= 1000)).toBe(true);
  });
});
