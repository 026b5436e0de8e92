/**
 * One region, the same answer in every command family. Each command runs as a user would run it
 * (the built CLI, in its own process, with the environment under test) and is pointed with
 * AWS_ENDPOINT_URL at a recorder that answers every AWS request with AccessDenied: the region
 * the client really used is read from the request's SigV4 credential scope, so what is checked
 * is what would have gone to AWS, not what a function returned.
 *
 * Adversaries: a CI template exporting AWS_REGION empty next to AWS_DEFAULT_REGION (data
 * commands used to exit 2 while stack commands used us-east-1), a region that lives only in the
 * profile (every command used to ignore it), and malformed values (one usage line, exit 2,
 * naming the source, and nothing sent anywhere).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../../src/aws/kinesis.js';
import type { SendSummaryDoc } from '../../src/pipeline/send-summary.js';
import { type BuiltCli, buildCli, runCli } from '../helpers/build-cli.js';
import { startTestServers, type TestServers } from '../helpers/cli.js';

interface Seen {
  /** The run that sent it (AWS_SDK_UA_APP_ID puts `app/<id>` in the user agent). */
  run: string;
  region: string;
  service: string;
}

/** Answers every request with AccessDenied in the protocol the client speaks; remembers who asked what. */
async function startRecorder(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // Credential=<key>/<date>/<region>/<service>/aws4_request
      const m = /Credential=[^/]+\/\d+\/([^/]+)\/([^/]+)\//.exec(req.headers.authorization ?? '');
      const ua = `${req.headers['user-agent'] ?? ''} ${req.headers['x-amz-user-agent'] ?? ''}`;
      const run = /\bapp\/(\S+)/.exec(ua)?.[1] ?? '?';
      if (m !== null) seen.push({ run, region: m[1] as string, service: m[2] as string });
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('json')) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'recorded' }));
      } else if (type.includes('x-www-form-urlencoded')) {
        res.writeHead(403, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>recorded</Message></Error><RequestId>r</RequestId></ErrorResponse>',
        );
      } else {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end(
          '<Error><Code>AccessDenied</Code><Message>recorded</Message><RequestId>r</RequestId></Error>',
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let cli: BuiltCli;
let home: string;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let runs = 0;

beforeAll(async () => {
  [cli, recorder] = await Promise.all([buildCli(), startRecorder()]);
  home = mkdtempSync(join(tmpdir(), 'paypipe-home-'));
  mkdirSync(join(home, '.aws'));
  writeFileSync(
    join(home, '.aws', 'config'),
    '[default]\nregion = eu-central-1\n\n[profile dev]\nregion = sa-east-1\n\n[profile broken]\nregion = moon-1a\n',
  );
  writeFileSync(
    join(home, '.aws', 'credentials'),
    ['default', 'dev', 'broken']
      .map((p) => `[${p}]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n`)
      .join('\n'),
  );
}, 120_000);
afterAll(async () => {
  cli?.cleanup();
  await recorder?.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs one command, tagged so the recorder can tell its requests from the concurrent runs'. */
async function run(args: string[], vars: Record<string, string>, o: { withHome?: boolean } = {}) {
  const once = async () => {
    const id = `run${++runs}`;
    const r = await runCli(cli, args, {
      env: {
        AWS_ENDPOINT_URL: recorder.url,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SDK_UA_APP_ID: id,
        HOME: o.withHome === false ? join(home, 'nowhere') : home,
        ...vars,
      },
    });
    return { ...r, seen: () => recorder.seen.filter((s) => s.run === id) };
  };
  const r = await once();
  // The credential check gives the SDK chain 1.2 s; dozens of CLI processes on a loaded 2-core
  // machine can starve it. That says nothing about regions: run it again, once.
  return /gave no credentials: no answer within|no AWS credentials found .*no answer within/.test(r.stderr)
    ? once()
    : r;
}

/** Every command family, each with the flags that take it to its first AWS call. */
const COMMANDS: Record<string, string[]> = {
  send: ['send', '--stream', 'in', '--count', '1'],
  results: ['results', '--bucket', 'b', '--last', '5m'],
  peek: ['peek', '--stream', 'in'],
  logs: ['logs', 'producer'],
  schedule: ['schedule'],
  'dead-letters': ['dead-letters'],
  outputs: ['outputs'],
  destroy: ['destroy', '--force'],
};

type Case = { name: string; args?: string[]; vars: Record<string, string>; home?: boolean; region: string };

const GOOD: Case[] = [
  { name: 'nothing set, no config file: the default', vars: {}, home: false, region: 'ap-southeast-2' },
  {
    name: 'empty AWS_REGION is unset: AWS_DEFAULT_REGION',
    vars: { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1' },
    region: 'us-east-1',
  },
  { name: "the profile's region", vars: { AWS_PROFILE: 'dev' }, region: 'sa-east-1' },
  {
    name: "the default profile's region",
    vars: { AWS_REGION: '', AWS_DEFAULT_REGION: '' },
    region: 'eu-central-1',
  },
  {
    name: '--region over AWS_REGION',
    args: ['--region', 'eu-west-1'],
    vars: { AWS_REGION: 'us-east-2' },
    region: 'eu-west-1',
  },
  {
    name: 'AWS_REGION over AWS_DEFAULT_REGION and the profile',
    vars: { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'us-west-2', AWS_PROFILE: 'dev' },
    region: 'us-east-2',
  },
];

const BAD: Array<{ name: string; vars: Record<string, string>; message: RegExp }> = [
  {
    name: 'AWS_REGION=Mars',
    vars: { AWS_REGION: 'Mars' },
    message: /AWS_REGION "Mars" is not an AWS region name/,
  },
  {
    name: 'empty AWS_REGION, malformed AWS_DEFAULT_REGION',
    vars: { AWS_REGION: '', AWS_DEFAULT_REGION: 'us_east_1' },
    message: /AWS_DEFAULT_REGION "us_east_1" is not an AWS region name/,
  },
  {
    name: 'a profile with a malformed region',
    vars: { AWS_PROFILE: 'broken' },
    message: /profile "broken" in .*config has region "moon-1a", which is not an AWS region name/,
  },
  {
    name: 'a malformed endpoint',
    vars: { AWS_ENDPOINT_URL: 'localhost:4566' },
    message: /AWS_ENDPOINT_URL "localhost:4566" is not an endpoint URL/,
  },
];

// The whole table through one data command and one stack command; the cases the commands used to
// disagree on through every other command.
const matrix = (cases: Case[], all: string[], some: string[], picked: (c: Case) => boolean) =>
  cases.flatMap((c) => (picked(c) ? [...all, ...some] : all).map((cmd) => [cmd, c] as const));

describe.concurrent('the region every command family signs its requests for', () => {
  const rows = matrix(
    GOOD,
    ['send', 'outputs'],
    ['results', 'peek', 'logs', 'schedule', 'dead-letters', 'destroy'],
    (c) => c.name.startsWith('empty AWS_REGION') || c.name === "the profile's region",
  );
  it.each(rows.map(([cmd, c]) => [cmd, c.name, c] as const))('%s: %s', async (cmd, _name, c) => {
    const r = await run([...(COMMANDS[cmd] as string[]), ...(c.args ?? [])], c.vars, { withHome: c.home });
    const seen = r.seen();
    expect(seen.length, `no AWS request was made; stderr: ${r.stderr}`).toBeGreaterThan(0);
    expect(new Set(seen.map((s) => s.region))).toEqual(new Set([c.region]));
    expect(r.code).toBe(1); // the recorder denied it
    expect(r.stderr).not.toMatch(/is not an AWS region name|at .*\.js:\d+/);
  });
});

describe.concurrent('a malformed region or endpoint: one line, exit 2, nothing sent', () => {
  const rows = BAD.flatMap((b) => Object.keys(COMMANDS).map((cmd) => [cmd, b.name, b] as const));
  it.each(rows)('%s: %s', async (cmd, _name, b) => {
    const r = await run(COMMANDS[cmd] as string[], b.vars);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(b.message);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !/^\s*hint:/i.test(l)),
    ).toHaveLength(1);
    expect(r.seen()).toEqual([]);
  });
});

describe('endpoints reach real servers', () => {
  let servers: TestServers;
  beforeAll(async () => {
    servers = await startTestServers();
  }, 60_000);
  afterAll(() => servers?.close());

  it('send on an AWS target with AWS_ENDPOINT_URL_KINESIS lands every event on that stream', async () => {
    const stream = servers.config.streams.input.name;
    const r = await runCli(cli, ['send', '--stream', stream, '--count', '25', '--seed', '7', '--json'], {
      env: {
        HOME: home,
        AWS_REGION: '',
        AWS_DEFAULT_REGION: 'us-east-1',
        // Service-specific over global: the global one points at the recorder, which would deny.
        AWS_ENDPOINT_URL: recorder.url,
        AWS_ENDPOINT_URL_KINESIS: servers.kinesisEndpoint,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SDK_UA_APP_ID: 'real-servers',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as SendSummaryDoc;
    expect(doc).toMatchObject({ target: 'aws', region: 'us-east-1', stream, sent: 25, failed: 0 });
    let n = 0;
    for await (const rec of readStream(servers.kinesis, stream, { position: { type: 'trim-horizon' } })) {
      if (rec.partitionKey !== '') n++;
    }
    expect(n).toBe(25);
    expect(recorder.seen.filter((s) => s.run === 'real-servers')).toEqual([]);
  });
});
