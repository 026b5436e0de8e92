/**
 * Bad invocations of EVERY command, through a private build of the bin (test/ops/build-cli.ts) in a
 * clean environment: no AWS credentials anywhere (no env keys, config and credentials files that do
 * not exist, no instance metadata), no local pipeline running. Each must:
 *   - exit 2 (usage) or 1 (failure), as the table says;
 *   - print exactly one line matching /^paypipe: / on stderr, as the last line — and for usage
 *     errors nothing else at all (bad input is caught before any work starts);
 *   - print nothing on stdout and no stack trace;
 *   - finish within a bounded time (a hang fails the test).
 * The generic rows (unknown option, missing option value, stray arguments) are generated from the
 * program commander actually builds, so a new command or option is covered without editing this file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { type BuiltCli, type RunResult, runCli } from '../helpers/build-cli.js';
import { buildFullCli } from '../helpers/built-cli.js';

const SOAK = process.env.PAYPIPE_SOAK === '1';

let cli: BuiltCli;
let scratch: string;
/** A data dir with an endpoints.json whose process is long gone (a killed `paypipe up`). */
let staleDir: string;
/** A data dir with an endpoints.json that is not JSON. */
let corruptDir: string;
/** A regular file given as --data-dir. */
let fileAsDir: string;

beforeAll(async () => {
  cli = await buildFullCli();
  scratch = mkdtempSync(join(tmpdir(), 'paypipe-cli-errors-'));
  staleDir = join(scratch, 'stale');
  corruptDir = join(scratch, 'corrupt');
  fileAsDir = join(scratch, 'a-file');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(staleDir);
  mkdirSync(corruptDir);
  writeFileSync(fileAsDir, 'not a directory\n');
  // pid 2^22 - 1 is above the default pid_max (2^22 on 64-bit Linux allows it, but it is never in
  // use on a test box); the file is otherwise well-formed.
  writeFileSync(
    join(staleDir, 'endpoints.json'),
    JSON.stringify({
      pid: 4_194_303,
      kinesisEndpoint: 'http://127.0.0.1:9',
      s3Endpoint: 'http://127.0.0.1:9',
      region: 'ap-southeast-2',
      startedAt: '2024-01-15T10:00:00.000Z',
      configOverrides: {},
    }),
  );
  writeFileSync(join(corruptDir, 'endpoints.json'), '{"pid": 12, "kinesisEndp');
}, 60_000);

afterAll(() => {
  cli?.cleanup();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** No credentials from anywhere: the SDK's whole default chain comes up empty, fast. */
const NO_AWS: Record<string, string> = {
  AWS_CONFIG_FILE: '/nonexistent/paypipe-test/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/paypipe-test/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

interface Case {
  args: string[];
  code: 1 | 2;
  /** What the one line must say (beyond starting with "paypipe: "). */
  message: RegExp;
  env?: Record<string, string>;
}

/** Rows that need a data dir made in beforeAll take it through a function. */
type Row = Case | (() => Case);

const NOT_RUNNING = /no local pipeline is running in |is not running \(process \d+ has exited\)/;
const NO_CREDS = /no AWS credentials found|AWS profile "[^"]+" gave no credentials/;

const nr =
  (cmd: string[], extra: string[] = []): Row =>
  () => ({
    args: [...cmd, '--local', '--data-dir', join(scratch, 'never-started'), ...extra],
    code: 1,
    message: NOT_RUNNING,
  });
const noCreds = (...args: string[]): Case => ({ args, code: 1, message: NO_CREDS });
const usage = (message: RegExp, ...args: string[]): Case => ({ args, code: 2, message });

/** Hand-written rows: out-of-range and malformed values, conflicts, missing credentials, no pipeline. */
const TABLE: Row[] = [
  // global
  usage(/unknown command 'bogus'/, 'bogus'),
  usage(/unknown command 'sendd'/, 'sendd'),
  usage(/unknown option '--bogus'/, '--bogus'),
  // synth (offline: never needs credentials)
  usage(/environment "bad name!" must start with a letter/, 'synth', '--env', 'bad name!'),
  usage(/region "nowhere-1" is not an AWS region name/, 'synth', '--region', 'nowhere-1'),
  usage(/project/, 'synth', '--project', 'UPPER_case'),
  {
    args: ['synth', '--out', '/dev/null/cdk.out'],
    code: 1,
    message: /synth of paypipe-dev .*failed: ENOTDIR/,
  },
  // diff
  noCreds('diff'),
  noCreds('diff', '--fail'),
  noCreds('diff', '--profile', 'no-such-profile'),
  usage(/region "x" is not an AWS region name/, 'diff', '--region', 'x'),
  // deploy
  usage(
    /--require-approval must be one of never, broadening, got "sometimes"/,
    'deploy',
    '--require-approval',
    'sometimes',
  ),
  noCreds('deploy'),
  noCreds('deploy', '--require-approval', 'never', '--bootstrap'),
  noCreds('deploy', '--profile', 'no-such-profile'),
  usage(/environment "Prod" must start with a letter/, 'deploy', '--env', 'Prod'),
  // destroy
  usage(/needs confirmation and there is no terminal to ask on/, 'destroy'),
  noCreds('destroy', '--force'),
  noCreds('destroy', '--force', '--profile', 'no-such-profile'),
  // outputs
  noCreds('outputs'),
  noCreds('outputs', '--stack', 'some-other-stack'),
  noCreds('outputs', '--profile', 'no-such-profile'),
  usage(/region "us_east_1" is not an AWS region name/, 'outputs', '--region', 'us_east_1'),
  // up
  usage(/--shards must be a whole number from 1 to 64, got "0"/, 'up', '--shards', '0'),
  usage(/--shards must be a whole number from 1 to 64, got "65"/, 'up', '--shards', '65'),
  usage(/--shards must be a whole number from 1 to 64, got "two"/, 'up', '--shards', 'two'),
  usage(/--buffer-interval must be a whole number from 0 to 900, got "-1"/, 'up', '--buffer-interval', '-1'),
  usage(
    /--buffer-interval must be a whole number from 0 to 900, got "901"/,
    'up',
    '--buffer-interval',
    '901',
  ),
  () => usage(/--data-dir \S*a-file is not a directory/, 'up', '--data-dir', fileAsDir),
  () => ({ args: ['up', '--data-dir', corruptDir], code: 1, message: /is not a valid endpoints file/ }),
  // demo
  usage(/--count must be a whole number from 1 to 100,000, got "0"/, 'demo', '--count', '0'),
  usage(/--count must be a whole number from 1 to 100,000, got "100001"/, 'demo', '--count', '100001'),
  usage(/--count must be a whole number .*got "1.5"/, 'demo', '--count', '1.5'),
  usage(/--count must be a whole number .*got "1e3"/, 'demo', '--count', '1e3'),
  usage(/--seed must be a whole number from 0 to 2,147,483,647, got "-1"/, 'demo', '--seed', '-1'),
  usage(/--span must be from 1m to 1h, got "30s"/, 'demo', '--span', '30s'),
  usage(/--span must be a duration like .*got "5x"/, 'demo', '--span', '5x'),
  usage(/--malformed must be a whole number from 0 to 1,000, got "1001"/, 'demo', '--malformed', '1001'),
  usage(/--timeout must be from 5s to 10m, got "1s"/, 'demo', '--timeout', '1s'),
  // send
  usage(/"foo" is not a function of the pipeline: use producer or aggregator/, 'invoke', 'foo'),
  usage(/missing required argument 'function'/, 'invoke'),
  usage(/--count must be a whole number from 1 to 10,000/, 'invoke', 'aggregator', '--count', '0'),
  // A sample batch would land in the real account's totals: on AWS only with --yes.
  usage(
    /invoke aggregator on AWS writes its aggregates .* real output/,
    'invoke',
    'aggregator',
    '--env',
    'dev',
  ),
  usage(
    /--event \/nonexistent\/event\.json cannot be read: ENOENT/,
    'invoke',
    'aggregator',
    '--event',
    '/nonexistent/event.json',
  ),
  usage(/--count must be a whole number from 1 to 10,000,000, got "0"/, 'send', '--count', '0'),
  usage(/--count must be a whole number .*got "-5"/, 'send', '-n', '-5'),
  usage(/--concurrency must be a whole number from 1 to 64, got "65"/, 'send', '--concurrency', '65'),
  usage(/--max-attempts must be a whole number from 1 to 20, got "0"/, 'send', '--max-attempts', '0'),
  usage(/--rate must be a number from 0.1 to 1000000, got "0"/, 'send', '--rate', '0'),
  usage(/--rate must be a number .*got "NaN"/, 'send', '--rate', 'NaN'),
  usage(/--duration must be from 1s to 1d, got "0s"/, 'send', '--duration', '0s'),
  usage(/--seed must be a whole number from 0 to 4,294,967,295/, 'send', '--seed', '4294967296'),
  usage(/--via-lambda cannot be combined with --rate/, 'send', '--via-lambda', '--rate', '5'),
  usage(/--count with --via-lambda must be at most 100,000/, 'send', '--via-lambda', '--count', '100001'),
  usage(/--from-file replays a file as it is/, 'send', '--from-file', 'x.ndjson', '--scenario', 'messy'),
  usage(/--scenario late must be a share from 0 to 1, got "x"/, 'send', '--scenario', 'late=x'),
  usage(/--scenario is empty \(got ",,,"\)/, 'send', '--scenario', ',,,'),
  usage(/--scenario has an empty part/, 'send', '--scenario', 'messy,,late=0.1'),
  usage(/--allow-invalid goes with --from-file/, 'send', '--allow-invalid'),
  noCreds('send'),
  noCreds('send', '--count', '5', '--stream', 'explicit-stream'),
  noCreds('send', '--via-lambda', '--count', '5'),
  noCreds('send', '--profile', 'no-such-profile'),
  nr(['send']),
  nr(['send'], ['--from-file', '/nonexistent/events.ndjson']),
  () => ({ args: ['send', '--local', '--data-dir', staleDir], code: 1, message: NOT_RUNNING }),
  () => ({
    args: ['send', '--local', '--data-dir', corruptDir],
    code: 1,
    message: /is not a valid endpoints file/,
  }),
  // results
  usage(/--hour must be a whole number from 0 to 23, got "-1"/, 'results', '--hour', '-1'),
  usage(
    /--date must be a calendar date like 2024-01-15, got "2024-02-30"/,
    'results',
    '--date',
    '2024-02-30',
  ),
  usage(/--until must be at most 31d ago, got "40d"/, 'results', '--until', '40d'),
  usage(
    /--to .* must be after --from/,
    'results',
    '--from',
    '2024-01-15T10:00Z',
    '--to',
    '2024-01-15T09:00Z',
  ),
  usage(/--last must be from 1m to 31d ago, got "32d"/, 'results', '--last', '32d'),
  usage(/--wait goes with --verify/, 'results', '--wait', '1m'),
  usage(/--concurrency must be a whole number from 1 to 64, got "0"/, 'results', '--concurrency', '0'),
  usage(
    /--verify \/nonexistent\/summary.json: no such file/,
    'results',
    '--verify',
    '/nonexistent/summary.json',
  ),
  noCreds('results'),
  noCreds('results', '--raw', '--last', '10m'),
  noCreds('results', '--bucket', 'explicit-bucket'),
  nr(['results']),
  nr(['results'], ['--files']),
  () => ({ args: ['results', '--local', '--data-dir', staleDir], code: 1, message: NOT_RUNNING }),
  // peek
  usage(/--since must be from 1s to 7d ago, got "0s"/, 'peek', '--since', '0s'),
  usage(/--at must be a duration .*, got "2024-13-01T00:00Z"/, 'peek', '--at', '2024-13-01T00:00Z'),
  usage(/--since and --from both say where to start/, 'peek', '--since', '5m', '--from', 'latest'),
  usage(/--count and --limit are the same option/, 'peek', '-n', '5', '--limit', '5'),
  noCreds('peek'),
  noCreds('peek', '--stream', 'output', '--follow'),
  nr(['peek']),
  nr(['peek'], ['--stream', 'output', '--follow']),
  // dead-letters
  usage(/--last must be at most 31d ago, got "32d"/, 'dead-letters', '--last', '32d'),
  usage(/--since .* is in the future/, 'dead-letters', '--since', '2099-01-01'),
  usage(/--last must be a duration like .*got "x"/, 'dead-letters', '--last', 'x'),
  usage(/--limit must be a whole number from 1 to 100,000, got "0"/, 'dead-letters', '--limit', '0'),
  usage(
    /--limit must be a whole number from 1 to 100,000, got "100001"/,
    'dead-letters',
    '--limit',
    '100001',
  ),
  noCreds('dead-letters'),
  noCreds('dead-letters', '--profile', 'no-such-profile'),
  nr(['dead-letters']),
  () => ({ args: ['dead-letters', '--local', '--data-dir', staleDir], code: 1, message: NOT_RUNNING }),
  // query
  usage(/--since must be a duration like .*got "x"/, 'query', '--since', 'x'),
  usage(/--sql and --windows conflict/, 'query', '--sql', 'SELECT 1', '--windows'),
  usage(/--totals and --duplicates conflict/, 'query', '--totals', '--duplicates'),
  usage(/--sql is empty/, 'query', '--sql', ' '),
  usage(/--format must be one of table, json, csv, got "xml"/, 'query', '--format', 'xml'),
  noCreds('query'),
  noCreds('query', '--undecided', '--since', '1d'),
  nr(['query']),
  // reconcile
  usage(/--since must be from 1m to 366d ago, got "400d"/, 'reconcile', '--since', '400d'),
  usage(/--since must be a duration like .*got "yesterday"/, 'reconcile', '--since', 'yesterday'),
  noCreds('reconcile'),
  nr(['reconcile']),
  // logs
  usage(/function must be one of producer, aggregator, all, got "bogusfn"/, 'logs', 'bogusfn'),
  usage(/--level must be one of debug, info, warn, error, got "loud"/, 'logs', '--level', 'loud'),
  usage(/--since must be a duration like .* got "nonsense"/, 'logs', '--since', 'nonsense'),
  usage(/--filter: filter pattern .* has no closing "}"/, 'logs', '--filter', '{ $.x = ', '--local'),
  noCreds('logs'),
  noCreds('logs', 'aggregator', '--follow'),
  () => ({
    args: ['logs', '--local', '--data-dir', join(scratch, 'never-started')],
    code: 1,
    message: /no local pipeline logs in /,
  }),
  // doctor (its failing-check report is covered below: it is a report, not an error)
  usage(/--timeout must be from 1s to 1h, got "0s"/, 'doctor', '--timeout', '0s'),
  usage(/--max-lag must be a duration like .*got "0"/, 'doctor', '--max-lag', '0'),
  usage(/--stale-after must be a duration like .*got "x"/, 'doctor', '--stale-after', 'x'),
  // schedule
  usage(
    /'--rate <every>' cannot be used with option '--cron <expr>'/,
    'schedule',
    '--rate',
    '5 minutes',
    '--cron',
    '0 * * * ? *',
  ),
  usage(/'--enable' cannot be used with option '--disable'/, 'schedule', '--enable', '--disable'),
  usage(/--count must be a whole number from 1 to 100,000, got "0"/, 'schedule', '--count', '0'),
  usage(/--rate must be like "5 minutes"/, 'schedule', '--rate', 'bogus'),
  noCreds('schedule'),
  noCreds('schedule', '--disable'),
  noCreds('schedule', '--rate', '5 minutes'),
  nr(['schedule'], ['--disable']),
  nr(['schedule'], ['--rate', '10 seconds']),
  // config (offline)
  usage(/environment "Bad!" must start with a letter/, 'config', '--env', 'Bad!'),
  usage(/--region "mars" is not an AWS region name like ap-southeast-2/, 'config', '--region', 'mars'),
  usage(/--project "UP" is not a lower-case name/, 'config', '--project', 'UP'),
  usage(/config file \/nonexistent\/p.json does not exist/, 'config', '--config', '/nonexistent/p.json'),
  { ...usage(/AWS_REGION "moon-1" is not an AWS region name/, 'config'), env: { AWS_REGION: 'moon-1' } },
  // redrive
  noCreds('redrive'),
  noCreds('redrive', '--dry-run'),
  usage(/--region "x" is not an AWS region name/, 'redrive', '--region', 'x'),
  nr(['redrive']),
  nr(['redrive'], ['--dry-run']),
  // scale, status
  noCreds('scale'),
  noCreds('scale', '--shards', '4'),
  noCreds('status', '--once'),
  usage(/--shards must be a whole number from 1 to 10000, got "0"/, 'scale', '--shards', '0'),
  usage(/--shards and --on-demand exclude each other/, 'scale', '--shards', '2', '--on-demand'),
  usage(/--since must be from 1m to 1d ago, got "10s"/, 'status', '--since', '10s'),
  nr(['scale']),
  nr(['status'], ['--once']),
];

/**
 * Rows test/data/cli.test.ts checks too (the data commands' own suite): run here under
 * PAYPIPE_SOAK=1 only, to keep the default suite short.
 */
const SOAK_TABLE: Row[] = [
  usage(/use either --count or --duration/, 'send', '--count', '5', '--duration', '5s'),
  usage(/--via-lambda .* cannot be used with --local/, 'send', '--via-lambda', '--local'),
  usage(/--scenario has unknown key "speed"/, 'send', '--scenario', 'speed=3'),
  usage(/--hour must be a whole number from 0 to 23, got "24"/, 'results', '--hour', '24'),
  usage(/--from must be a duration like 30m, 2h or 1d, (or )?a UTC time/, 'results', '--from', 'yesterday'),
  usage(/use either --date\/--hour or --last, not both/, 'results', '--last', '5m', '--hour', '3'),
  usage(/--format must be one of table, json, ndjson, csv, got "xml"/, 'results', '--format', 'xml'),
  usage(/--limit must be a whole number from 1 to 1,000,000, got "0"/, 'peek', '--limit', '0'),
  usage(/--from must be .*trim-horizon.*, got "oldest"/, 'peek', '--from', 'oldest'),
];

/** The commands commander registers, with their options, straight from src/cli/main.ts. */
let commands: Command[] = [];
beforeAll(async () => {
  commands = (await buildProgram()).commands as Command[];
});

/** Generic rows for every registered command: unknown option, each option without its value, stray args. */
function generatedRows(): Case[] {
  const rows: Case[] = [];
  for (const c of commands) {
    const name = c.name();
    rows.push(usage(/unknown option '--no-such-option'/, name, '--no-such-option'));
    rows.push(usage(/too many arguments|must be one of/, name, 'stray-1', 'stray-2'));
    // The missing-value path is commander's and the same for every option: one per command by
    // default (the last one, usually the least exercised), all of them under PAYPIPE_SOAK=1.
    const valued = c.options.filter((o) => o.required && o.long !== undefined);
    for (const o of SOAK ? valued : valued.slice(-1)) {
      rows.push(usage(new RegExp(`option '.*${o.long}.*' argument missing`), name, o.long as string));
    }
  }
  return rows;
}

function check(r: RunResult, c: Case): void {
  const where = `paypipe ${c.args.join(' ')}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  expect(r.code, where).toBe(c.code);
  expect(r.stdout, where).toBe('');
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  const ours = lines.filter((l) => /^paypipe: /.test(l));
  expect(ours, where).toHaveLength(1);
  expect(lines.at(-1), where).toBe(ours[0]);
  expect(ours[0], where).toMatch(c.message);
  expect(r.stderr, where).not.toMatch(/^\s+at /m);
  expect(r.stderr, where).not.toMatch(/unexpected error/);
  // A usage error is found before any work starts: nothing else is printed.
  if (c.code === 2) expect(lines, where).toHaveLength(1);
}

/** Runs rows a few at a time (2 shared cores), each bounded by runCli's timeout. */
async function runAll(rows: Case[]): Promise<Array<{ c: Case; r: RunResult }>> {
  const out: Array<{ c: Case; r: RunResult }> = new Array(rows.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const i = next++;
      const c = rows[i] as Case;
      const r = await runCli(cli, c.args, { env: { ...NO_AWS, ...c.env }, timeoutMs: 30_000 });
      out[i] = { c, r };
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return out;
}

describe('bad invocations of every command: one line, exit 1 or 2, nothing on stdout, no stack', () => {
  it('the table covers every registered command', () => {
    const names = commands.map((c) => c.name()).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'dead-letters',
        'demo',
        'deploy',
        'destroy',
        'diff',
        'doctor',
        'logs',
        'outputs',
        'peek',
        'results',
        'schedule',
        'send',
        'synth',
        'up',
      ]),
    );
    const rows = TABLE.map((r) => (typeof r === 'function' ? r() : r));
    const uncovered = names.filter((n) => rows.filter((r) => r.args[0] === n).length < 3);
    expect(uncovered, 'commands with fewer than 3 hand-written bad invocations').toEqual([]);
  });

  it('hand-written table', { timeout: 180_000 }, async () => {
    const rows = [...TABLE, ...(SOAK ? SOAK_TABLE : [])].map((r) => (typeof r === 'function' ? r() : r));
    const failures: string[] = [];
    for (const { c, r } of await runAll(rows)) {
      try {
        check(r, c);
      } catch (e) {
        failures.push((e as Error).message.split('\n').slice(0, 12).join('\n'));
      }
    }
    expect(failures.join('\n\n')).toBe('');
  });

  it('generated from the program: unknown options, options missing their value, stray arguments', {
    timeout: 180_000,
  }, async () => {
    const rows = generatedRows();
    expect(rows.length).toBeGreaterThan(commands.length * 2);
    const failures: string[] = [];
    for (const { c, r } of await runAll(rows)) {
      try {
        check(r, c);
      } catch (e) {
        failures.push((e as Error).message.split('\n').slice(0, 12).join('\n'));
      }
    }
    expect(failures.join('\n\n')).toBe('');
  });

  it('--json turns the same errors into one JSON document on stderr (usage 2, failure 1)', async () => {
    const rows: Array<[string[], number, string]> = [
      [['send', '--count', 'lots', '--json'], 2, 'USAGE'],
      [['results', '--json', '--hour', '99'], 2, 'USAGE'],
      [['outputs', '--json'], 1, 'NO_CREDENTIALS'],
      [['peek', '--json', '--local', '--data-dir', join(scratch, 'never-started')], 1, 'LOCAL_NOT_RUNNING'],
    ];
    for (const [args, code, errorCode] of rows) {
      const r = await runCli(cli, args, { env: NO_AWS, timeoutMs: 30_000 });
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      const last = r.stderr.trim().split('\n').at(-1) ?? '';
      expect((JSON.parse(last) as { error: { code: string } }).error.code).toBe(errorCode);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('doctor with nothing to check against: its report on stdout, then one paypipe: line, exit 1', async () => {
    for (const args of [['doctor'], ['doctor', '--local', '--data-dir', join(scratch, 'never-started')]]) {
      const r = await runCli(cli, args, { env: NO_AWS, timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/fail/);
      const lines = r.stderr.trim().split('\n');
      expect(lines.filter((l) => l.startsWith('paypipe: '))).toHaveLength(1);
      expect(lines.at(-1)).toMatch(/^paypipe: \d+ of \d+ checks? failed/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
