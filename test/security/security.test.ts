/**
 * Security properties, proven against the built bin and the real local servers:
 *
 * 1. Secrets never reach output or disk. With distinctive fake AWS keys (and a session token) in the
 *    environment and AWS_ENDPOINT_URL at a closed local port, every AWS-touching command fails on
 *    the network — with and without --debug (stack traces, SDK details) — and neither stdout,
 *    stderr nor any file it leaves in its working directory contains the secret or the token.
 *    The plain (non --debug) runs must also keep the CLI's error contract: exit 1, one
 *    `paypipe:` line last on stderr, no stack, nothing on stdout.
 * 2. The local API servers listen on 127.0.0.1 only: a connection to the same port on another
 *    loopback address (127.0.0.2), on ::1 and on the machine's other addresses is refused, while
 *    127.0.0.1 answers.
 * 3. Record bytes are untrusted: `peek` must not copy terminal control sequences from a record to
 *    the terminal.
 */
import { createServer, connect } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFullCli } from '../helpers/built-cli.js';
import { type BuiltCli, type RunResult, runCli } from '../helpers/build-cli.js';
import { sendRaw, startTestPipeline, type TestPipeline } from '../helpers/local-pipeline.js';

const ACCESS_KEY_ID = 'AKIAPAYPIPEFAKE7Q3X';
const SECRET = 'pAyPiPe/FaKe+SeCrEt/9f8e7d6c5b4a3z2y1x0w';
const SESSION_TOKEN = 'FwoGZXIvYXdzEPaypipeFakeSessionTokenXyZ123+/=';

let cli: BuiltCli;
let closedPort: number;

/** A port nothing listens on: bind an ephemeral one, then close it. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  cli = await buildFullCli();
  closedPort = await freePort();
}, 60_000);
afterAll(() => cli?.cleanup());

const fakeAwsEnv = (): Record<string, string> => ({
  AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: SECRET,
  AWS_SESSION_TOKEN: SESSION_TOKEN,
  AWS_REGION: 'eu-west-1',
  AWS_ENDPOINT_URL: `http://127.0.0.1:${closedPort}`,
  AWS_CONFIG_FILE: '/nonexistent/paypipe-test/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/paypipe-test/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  // Keep the toolkit's own network calls (notices, telemetry) out of it.
  CDK_DISABLE_VERSION_CHECK: 'true',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
});

/** Every file under dir (the command's cwd: data dir, unsent files, cdk.out…), read as text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size < 50 * 1024 * 1024)
        out.push({ path: p, text: readFileSync(p, 'latin1') });
    }
  };
  walk(dir);
  return out;
}

const leaks = (text: string): string[] =>
  [SECRET, SESSION_TOKEN, encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64')].filter((s) =>
    text.includes(s),
  );

/** AWS-touching commands on their error paths (no AWS here: they all fail on the network). */
const SOAK = process.env.PAYPIPE_SOAK === '1';
// diff and deploy bundle both Lambdas before they reach the network (~30 s each here); the other
// two take the same path as a default row. Soak only.
const SOAK_ONLY: string[][] = [
  ['diff'],
  ['deploy', '--require-approval', 'never'],
  ['doctor'],
  ['schedule', '--disable'],
];
/** Commands that never touch AWS (the local pipeline, or offline like `config`). */
const LOCAL_ONLY = ['up', 'demo', 'config'];
const AWS_COMMANDS: string[][] = [
  ['outputs'],
  ...(SOAK ? SOAK_ONLY : []),
  // synth is offline; with --debug it prints the toolkit's view of the environment.
  ['synth', '--out', '/dev/null/cdk.out'],
  ['destroy', '--force'],
  ['send', '--count', '3'],
  ['send', '--count', '3', '--stream', 'explicit-input-stream'],
  ['send', '--via-lambda', '--count', '3'],
  ['results', '--last', '10m'],
  ['results', '--bucket', 'explicit-bucket'],
  ['peek', '--limit', '1'],
  ['dead-letters', '--last', '2h'],
  ['redrive', '--dry-run'],
  ['scale'],
  ['status', '--once'],
  ['logs', '--since', '5m'],
  ['doctor', '--probe', '--timeout', '5s'],
  ['schedule'],
  ['invoke', 'producer', '--count', '3'],
  ['query', '--since', '2h'],
  ['query', '--sql', 'SELECT 1'],
  ['reconcile', '--since', '2h'],
];

/** Runs that break the error contract today (see the report in docs/proof.md); checked with it.fails. */
const KNOWN_CONTRACT_BUGS: Record<string, string> = {};

interface Run {
  args: string[];
  debug: boolean;
  r: RunResult;
  files: Array<{ path: string; text: string }>;
}
const runs: Run[] = [];

describe('fake AWS keys never appear in output or on disk, on error paths and with --debug', () => {
  beforeAll(async () => {
    const jobs = AWS_COMMANDS.flatMap((args) => [
      { args, debug: false },
      { args, debug: true },
    ]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++] as (typeof jobs)[number];
        const cwd = mkdtempSync(join(tmpdir(), 'paypipe-sec-'));
        try {
          const args = job.debug ? [...job.args, '--debug'] : job.args;
          const r = await runCli(cli, args, { env: fakeAwsEnv(), cwd, timeoutMs: 60_000 });
          runs.push({ ...job, r, files: filesUnder(cwd) });
        } finally {
          rmSync(cwd, { recursive: true, force: true });
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }, 240_000);

  it('covers every registered command that can reach AWS', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const names = (await buildProgram()).commands.map((c) => c.name());
    const covered = new Set([...AWS_COMMANDS, ...SOAK_ONLY].map((a) => a[0]));
    expect(names.filter((n) => !covered.has(n) && !LOCAL_ONLY.includes(n))).toEqual([]);
  });

  it('ran every command both ways, and every run failed (there is no AWS here)', () => {
    expect(runs).toHaveLength(AWS_COMMANDS.length * 2);
    for (const run of runs) expect(run.r.code, `${run.args.join(' ')}: ${run.r.stderr}`).toBe(1);
  });

  it('no stdout, stderr or file contains the secret key or the session token', () => {
    const found: string[] = [];
    for (const run of runs) {
      const what = `paypipe ${run.args.join(' ')}${run.debug ? ' --debug' : ''}`;
      for (const l of leaks(run.r.stdout)) found.push(`${what}: stdout has ${l.slice(0, 8)}…`);
      for (const l of leaks(run.r.stderr)) found.push(`${what}: stderr has ${l.slice(0, 8)}…`);
      for (const f of run.files)
        for (const l of leaks(f.text)) found.push(`${what}: ${f.path} has ${l.slice(0, 8)}…`);
    }
    expect(found).toEqual([]);
  });

  it('nothing the runs left under HOME (SDK/CDK caches, config) contains the secret either', () => {
    const found = filesUnder(cli.dir).flatMap((f) => leaks(f.text).map(() => f.path));
    expect(found).toEqual([]);
  });

  it('--debug shows more (so the check above saw the detailed paths), plain runs do not show the key id', () => {
    const plain = runs.filter((r) => !r.debug);
    const debug = runs.filter((r) => r.debug);
    const size = (rs: Run[]): number => rs.reduce((n, r) => n + r.r.stderr.length, 0);
    expect(size(debug)).toBeGreaterThan(size(plain));
    for (const run of plain) expect(run.r.stderr + run.r.stdout).not.toContain(ACCESS_KEY_ID);
  });

  const contract = (run: Run): void => {
    const where = `paypipe ${run.args.join(' ')}\n${run.r.stderr}`;
    const lines = run.r.stderr.replace(/\n$/, '').split('\n');
    expect(
      lines.filter((l) => l.startsWith('paypipe: ')),
      where,
    ).toHaveLength(1);
    expect(lines.at(-1), where).toMatch(/^paypipe: /);
    expect(run.r.stderr, where).not.toMatch(/^\s+at /m);
    expect(run.r.stderr, where).not.toMatch(/unexpected error/);
    expect(lines.at(-1), where).not.toMatch(/Assembly builder failed/);
    // doctor's product is its report on stdout; everything else prints nothing there on failure.
    if (run.args[0] !== 'doctor') expect(run.r.stdout, where).toBe('');
  };

  it('plain runs keep the error contract: exit 1, one paypipe: line last, no stack, no stdout', () => {
    for (const run of runs.filter((r) => !r.debug && KNOWN_CONTRACT_BUGS[r.args.join(' ')] === undefined)) {
      contract(run);
    }
  });

  for (const [args, bug] of Object.entries(KNOWN_CONTRACT_BUGS)) {
    // KNOWN BUG: passes while the bug stands; when it is fixed this turns red — delete the entry.
    it.fails(`KNOWN BUG paypipe ${args}: ${bug}`, () => {
      const run = runs.find((r) => !r.debug && r.args.join(' ') === args);
      expect(run).toBeDefined();
      contract(run as Run);
    });
  }

  it('AWS_PROFILE set but empty (as CI templates do) is no profile: the env keys are used (KNOWN BUG check below)', async () => {
    // Infra commands treat "" as unset and reach the network with the env keys.
    const r = await runCli(cli, ['outputs'], {
      env: { ...fakeAwsEnv(), AWS_PROFILE: '' },
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED|network/);
    expect(leaks(r.stderr)).toEqual([]);
  });

  // KNOWN BUG (src/cli/target.ts resolveTarget: `flags.profile ?? env.AWS_PROFILE`): the data-path
  // commands take AWS_PROFILE="" as a profile named "", ignore the env keys, and fail with
  // `AWS profile "" gave no credentials`. Turns red once fixed: then make it a plain `it`.
  it('results with AWS_PROFILE="" and env keys uses the env keys', async () => {
    const r = await runCli(cli, ['results', '--last', '10m'], {
      env: { ...fakeAwsEnv(), AWS_PROFILE: '' },
      timeoutMs: 30_000,
    });
    expect(r.stderr).not.toMatch(/AWS profile ""/);
    expect(r.stderr).toMatch(/ECONNREFUSED|network/);
  });
});

describe('the local servers accept connections on 127.0.0.1 only', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline();
  }, 60_000);
  afterAll(async () => p?.cleanup());

  /** 'open' when a TCP connection is established, else the error code. */
  const probe = (host: string, port: number): Promise<string> =>
    new Promise((resolve) => {
      const s = connect({ host, port, timeout: 3000 });
      s.once('connect', () => {
        s.destroy();
        resolve('open');
      });
      s.once('timeout', () => {
        s.destroy();
        resolve('timeout');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });

  const ports = (): Array<[string, number]> =>
    [
      ['kinesis', p.endpoints.kinesisEndpoint],
      ['s3', p.endpoints.s3Endpoint],
    ].map(([name, url]) => [name as string, Number(new URL(url as string).port)]);

  it('answers on 127.0.0.1 (and the endpoints say 127.0.0.1)', async () => {
    expect(p.endpoints.kinesisEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(p.endpoints.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const [, port] of ports()) expect(await probe('127.0.0.1', port)).toBe('open');
  });

  it('refuses the same ports on 127.0.0.2, ::1 and every other address of this machine', async () => {
    const others = ['127.0.0.2', '127.255.255.254'];
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? [])
        if (a.address !== '127.0.0.1' && !a.address.startsWith('fe80')) others.push(a.address);
    }
    if (!others.includes('::1')) others.push('::1');
    const open: string[] = [];
    for (const [name, port] of ports()) {
      for (const host of others) {
        const r = await probe(host, port);
        // ECONNREFUSED: nothing listens there; EADDRNOTAVAIL/ENETUNREACH: no such address here.
        if (r === 'open') open.push(`${name} on ${host}:${port}`);
        else
          expect(['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH'], `${host}: ${r}`).toContain(
            r,
          );
      }
    }
    expect(open).toEqual([]);
    // 127.0.0.2 is routed to loopback on Linux: the refusal above is the server's binding, not routing.
    const control = createServer();
    await new Promise<void>((r) => control.listen(0, '0.0.0.0', r));
    try {
      expect(await probe('127.0.0.2', (control.address() as { port: number }).port)).toBe('open');
    } finally {
      control.close();
    }
  });

  // KNOWN BUG (src/cli/peek/peek.ts renderRecord): a record that is not JSON is printed as raw text,
  // so a producer can put terminal control sequences (ESC …) on the operator's screen. Turns red
  // once peek escapes control characters: then make it a plain `it`.
  it('peek never copies terminal control sequences from record data to the terminal', async () => {
    const evil = '\u001b]0;owned\u0007\u001b[2J\u001b[31mnot json\u001b[0m';
    await sendRaw(p, [{ data: evil, partitionKey: 'evil' }]);
    const r = await runCli(cli, ['peek', '--local', '--data-dir', p.dataDir, '--from', 'trim-horizon'], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('not json');
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
