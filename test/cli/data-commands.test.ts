/**
 * `send`, `results` and `peek` through the built bin (run `npm run build` first; `npm test` does):
 * usage errors exit 2 with a one-line message, `--json` stdout parses, unsent events land in a file
 * that `--from-file` resends, and `--verify` catches a deliberate mismatch.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateId, renderAggregate } from '../../src/domain/aggregate.js';
import { encodeNdjson } from '../../src/pipeline/codec.js';
import type { SendSummaryDoc } from '../../src/pipeline/send-summary.js';
import type { ResultsDoc } from '../../src/cli/results/results.js';
import { type FaultProxy, startFaultProxy } from '../proxy/fault-proxy.js';
import { main, reportError } from '../../src/cli/main.js';
import { cli, startTestServers, type TestServers } from '../helpers/cli.js';

/** Under --json the error is the last stderr line (progress notes come before it). */
const jsonError = (stderr: string): unknown => JSON.parse(stderr.trim().split('\n').at(-1) ?? '');

/** The same path as bin/paypipe.js, in this process: main() then reportError() on what it throws. */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const sink = {
    write: (s: string): boolean => {
      stderr += s;
      return true;
    },
  } as unknown as Parameters<typeof reportError>[2];
  const argv = ['node', 'paypipe', ...args];
  try {
    await main(argv);
    return { code: 0, stderr };
  } catch (e) {
    return { code: reportError(e, argv, sink), stderr };
  }
}

describe.concurrent('usage errors: exit 2, one line naming the flag', () => {
  const cases: Array<[string[], RegExp]> = [
    [['send', '--count', '0'], /--count must be a whole number from 1 to 10,000,000, got "0"/],
    [['send', '--count', '10000001'], /--count must be a whole number from 1 to 10,000,000/],
    [['send', '--rate', 'fast'], /--rate must be a number from 0.1 to 1000000, got "fast"/],
    [['send', '--duration', '2d'], /--duration must be from 1s to 1d/],
    [['send', '--scenario', 'late=2'], /--scenario late must be a share from 0 to 1, got "2"/],
    [['send', '--scenario', 'currencies=XYZ:1'], /--scenario currency "XYZ" is not an ISO 4217 code/],
    [['send', '--scenario', 'speed=3'], /--scenario has unknown key "speed"/],
    [['send', '--count', '5', '--duration', '5s'], /use either --count or --duration/],
    [['send', '--via-lambda', '--local'], /--via-lambda .* cannot be used with --local/],
    [['send', '--from-file', 'x.ndjson', '--seed', '3'], /--from-file replays a file as it is/],
    [['send', '--max-attempts', '21'], /--max-attempts must be a whole number from 1 to 20/],
    [['results', '--hour', '24'], /--hour must be a whole number from 0 to 23, got "24"/],
    [
      ['results', '--from', 'yesterday'],
      /--from must be a duration like 30m, 2h or 1d, (or )?a UTC time like/,
    ],
    [['results', '--from', '2024-01-15T10:00Z', '--to', '2024-01-15T09:00Z'], /--to .* must be after --from/],
    [['results', '--last', '5m', '--hour', '3'], /use either --date\/--hour or --last, not both/],
    [
      ['results', '--since', 'yesterday'],
      /--since must be a duration like 30m, 2h or 1d, (or )?a UTC time like/,
    ],
    [['results', '--since', '2h', '--last', '1h'], /--since and --last both say where to start/],
    [['results', '--until', '2h', '--since', '1h'], /--until \(.*\) must be after --since/],
    [['results', '--date', '2024-02-30'], /--date must be a calendar date like 2024-01-15, got "2024-02-30"/],
    [['results', '--format', 'xml'], /--format must be one of table, json, ndjson, csv, got "xml"/],
    [
      ['results', '--verify', '/nonexistent/summary.json'],
      /--verify \/nonexistent\/summary.json: no such file/,
    ],
    [['results', '--json', '--format', 'csv'], /--json and --format csv conflict/],
    [['peek', '--limit', '0'], /--limit must be a whole number from 1 to 1,000,000/],
    [['peek', '--count', '0'], /--count must be a whole number from 1 to 1,000,000/],
    [['peek', '--at', '2024-13-01T00:00Z'], /--at must be a duration .*, got "2024-13-01T00:00Z"/],
    [['peek', '--since', '5m', '--from', 'latest'], /--since and --from both say where to start/],
    [['peek', '--from', 'oldest'], /--from must be .*trim-horizon.*, got "oldest"/],
    [['peek', '--since', '2099-01-01T00:00Z'], /--since 2099-01-01T00:00Z .* is in the future/],
  ];
  it.each(cases)('paypipe %j', async (args, message) => {
    const r = await inProcess(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  // A few of them through the real bin: exit status, stdout empty, no stack trace.
  const viaBin: string[][] = [
    ['send', '--count', '0'],
    ['send', '--scenario', 'late=2'],
    ['results', '--hour', '24'],
    ['peek', '--since', '5m', '--from', 'latest'],
  ];
  it.each(viaBin)('bin/paypipe.js %j', async (...args) => {
    const r = await cli(args);
    const want = cases.find(([a]) => a.join(' ') === args.join(' '))?.[1] as RegExp;
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(want);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--json renders a usage error as one JSON document on stderr', async () => {
    const r = await cli(['send', '--count', 'lots', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toMatchObject({
      error: { code: 'USAGE', message: expect.stringMatching(/--count/) },
    });
  });

  it('--local with nothing running is a one-line failure (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paypipe-empty-'));
    try {
      const bin = await cli(['send', '--local', '--data-dir', dir]);
      expect(bin.code).toBe(1);
      // The hint is a command that works when pasted: it keeps the data dir.
      expect(bin.stderr).toMatch(
        /^paypipe: no local pipeline is running in .* \(start it with `paypipe up --data-dir \S+`/,
      );
      expect(bin.stderr).toContain(`\`paypipe up --data-dir ${dir}\``);
      for (const cmd of [['send'], ['results'], ['peek']]) {
        const r = await inProcess([...(cmd as string[]), '--local', '--data-dir', dir]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/no local pipeline is running in/);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('against local servers', () => {
  let env: TestServers;
  let work: string;
  let proxy: FaultProxy;
  const local = (): string[] => ['--local', '--data-dir', env.dataDir];

  beforeAll(async () => {
    env = await startTestServers();
    work = mkdtempSync(join(tmpdir(), 'paypipe-cli-'));
    proxy = await startFaultProxy({ target: env.kinesisEndpoint, seed: 5 });
  });
  afterAll(async () => {
    await proxy?.close();
    await env?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('send --json prints one summary document; peek --json reads every event back as NDJSON', async () => {
    const r = await cli(['send', ...local(), '--count', '300', '--seed', '17', '--json']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as SendSummaryDoc;
    expect(s).toMatchObject({
      kind: 'paypipe.send-summary',
      target: 'local',
      sent: 300,
      failed: 0,
      unsentFile: null,
    });
    expect(s.source).toEqual({ type: 'generated', seed: 17, scenario: null, spanMs: 0 });
    const counted = Object.values(s.byCurrency).reduce((n, t) => n + t.count, 0);
    expect(counted).toBe(300);

    const p = await cli(['peek', ...local(), '--from', 'trim-horizon', '--limit', '1000', '--json']);
    expect(p.code).toBe(0);
    const lines = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { shardId: string; data: { transaction_id: string; currency: string } });
    expect(lines).toHaveLength(300);
    expect(new Set(lines.map((l) => l.data.transaction_id)).size).toBe(300);
    const usd = lines.filter((l) => l.data.currency === 'USD').length;
    expect(usd).toBe(s.byCurrency.USD?.count);
    expect(new Set(lines.map((l) => l.shardId)).size).toBe(2);

    const human = await cli(['peek', ...local(), '--from', 'trim-horizon', '--limit', '5']);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toHaveLength(5);
    expect(human.stdout).toMatch(/TXN\d+ {2}[\d,.]+ [A-Z]{3}/);
    expect(human.stderr).toMatch(/5 records from \d shards? \(stopped at --count 5\)/);
  });

  it('peek --since reads what arrived lately; --follow picks up new records until --limit', async () => {
    const since = await cli(['peek', ...local(), '--since', '10m', '--limit', '100000', '--json']);
    expect(since.code).toBe(0);
    expect(since.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(300);

    const following = cli(['peek', ...local(), '--from', 'latest', '--follow', '--limit', '3', '--json']);
    let done = false;
    void following.then(() => {
      done = true;
    });
    // Keep sending until the follower has seen 3 new records (it may start reading after the first sends).
    for (let i = 0; i < 40 && !done; i++) {
      const { sendRecords } = await import('../../src/aws/kinesis-sender.js');
      await sendRecords(env.kinesis, env.config.streams.input.name, [
        { data: Buffer.from(`{"follow":${i}}`), partitionKey: `k${i}` },
      ]);
      await new Promise((r) => setTimeout(r, 250)); // pacing the feed; the loop ends on the condition
    }
    const f = await following;
    expect(f.code).toBe(0);
    const seen = f.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { data: { follow: number } }).data.follow);
    expect(seen).toHaveLength(3);
    expect(seen.every((n) => Number.isInteger(n))).toBe(true);
  });

  it('writes events still unsent after retries to a file (exit 1), and --from-file resends them', async () => {
    env.pointCliAt({ kinesis: proxy.url });
    proxy.setRules([{ match: { operation: 'PutRecords' }, action: { failEntries: 0.5 } }]);
    const unsent = join(work, 'unsent.ndjson');
    try {
      // Half of every request's entries fail, every attempt: after 3 attempts ~1/8 are left.
      const r = await cli([
        'send',
        ...local(),
        '--count',
        '2000',
        '--seed',
        '4',
        '--max-attempts',
        '3',
        '--unsent-file',
        unsent,
        '--json',
      ]);
      expect(r.code).toBe(1);
      const s = JSON.parse(r.stdout) as SendSummaryDoc;
      expect(s.failed).toBeGreaterThan(100);
      expect(s.failed).toBeLessThan(500);
      expect(s.sent + s.failed).toBe(2000);
      expect(s.unsentFile).toBe(unsent);
      expect(jsonError(r.stderr)).toMatchObject({ error: { code: 'UNSENT', unsentFile: unsent } });
      const lines = readFileSync(unsent, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(s.failed);
      expect(
        lines.every((l) => (JSON.parse(l) as { transaction_id?: string }).transaction_id?.startsWith('TXN')),
      ).toBe(true);
    } finally {
      proxy.setRules([]);
      env.pointCliAt();
    }
    const again = await cli(['send', ...local(), '--from-file', unsent, '--json']);
    expect(again.code).toBe(0);
    const s2 = JSON.parse(again.stdout) as SendSummaryDoc;
    expect(s2.sent).toBe(readFileSync(unsent, 'utf8').trim().split('\n').length);
    expect(s2.source).toEqual({ type: 'file', path: unsent });

    const human = await cli(['send', ...local(), '--count', '20']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/✓ sent 20 events to paypipe-dev-input-stream/);
    expect(human.stdout).toMatch(/currency +events +total/);
  });

  it('results --verify catches a deliberate mismatch (exit 1) and passes on the truth', async () => {
    const W = Date.UTC(2024, 4, 1, 9, 30);
    const mk = (n: number, currency: string, count: number, totalMinor: number) =>
      renderAggregate(
        aggregateId(
          { shardId: 's', firstSequenceNumber: String(n), lastSequenceNumber: String(n) },
          new Date(W).toISOString(),
          currency,
        ),
        W,
        60_000,
        currency,
        { count, totalMinor, minMinor: 1, maxMinor: totalMinor },
      );
    const body = gzipSync(
      encodeNdjson([mk(1, 'USD', 3, 30_000), mk(2, 'USD', 2, 1_234), mk(3, 'JPY', 4, 4_000)]),
    );
    await env.s3.send(
      new PutObjectCommand({
        Bucket: env.config.buckets.analytics,
        Key: 'aggregations/year=2024/month=05/day=01/hour=09/x.gz',
        Body: body,
      }),
    );
    const summary = (byCurrency: SendSummaryDoc['byCurrency']): string => {
      const f = join(work, `summary-${Object.keys(byCurrency).join('')}-${Math.random()}.json`);
      writeFileSync(
        f,
        JSON.stringify({
          kind: 'paypipe.send-summary',
          version: 1,
          byCurrency,
          eventTime: { from: new Date(W + 1000).toISOString(), to: new Date(W + 50_000).toISOString() },
        }),
      );
      return f;
    };
    const good = summary({ JPY: { count: 4, total: '4000' }, USD: { count: 5, total: '312.34' } });
    const ok = await cli(['results', ...local(), '--verify', good, '--json']);
    expect(ok.stderr).not.toMatch(/error/);
    expect(ok.code).toBe(0);
    const okDoc = JSON.parse(ok.stdout) as ResultsDoc;
    expect(okDoc.range).toEqual({ from: '2024-05-01T09:30:00.000Z', to: '2024-05-01T09:31:00.000Z' });
    expect(okDoc.verify?.ok).toBe(true);

    const bad = summary({
      JPY: { count: 4, total: '4000' },
      USD: { count: 5, total: '312.35' },
      EUR: { count: 1, total: '1.00' },
    });
    const r = await cli(['results', ...local(), '--verify', bad, '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.verify?.ok).toBe(false);
    expect(doc.verify?.checks.filter((c) => !c.ok).map((c) => c.currency)).toEqual(['EUR', 'USD']);
    expect(jsonError(r.stderr)).toMatchObject({
      error: { code: 'VERIFY_MISMATCH', currencies: ['EUR', 'USD'] },
    });

    const human = await cli(['results', ...local(), '--verify', bad]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/MISMATCH/);
    expect(human.stdout).toMatch(/✗ USD {2}sent 5 payments \/ 312.35, aggregates say 5 \/ 312.34/);
    expect(human.stderr).toMatch(/paypipe: aggregates differ from .* for EUR, USD/);

    const csv = await cli(['results', ...local(), '--date', '2024-05-01', '--hour', '9', '--format', 'csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split('\n')).toEqual([
      'window_start,window_end,currency,transaction_count,total_amount,avg_amount,min_amount,max_amount',
      '2024-05-01T09:30:00.000Z,2024-05-01T09:31:00.000Z,JPY,4,4000,1000,1,4000',
      '2024-05-01T09:30:00.000Z,2024-05-01T09:31:00.000Z,USD,5,312.34,62.47,0.01,300.00',
    ]);
    const files = await cli([
      'results',
      ...local(),
      '--date',
      '2024-05-01',
      '--hour',
      '9',
      '--files',
      '--json',
    ]);
    expect(files.code).toBe(0);
    expect(JSON.parse(files.stdout)).toMatchObject({
      files: [
        {
          key: 'aggregations/year=2024/month=05/day=01/hour=09/x.gz',
          size: body.length,
          records: 3,
          problem: null,
        },
      ],
    });
  });

  it('results: a damaged object is exit 1 after printing what was salvaged; --allow-damaged accepts it', async () => {
    const key = 'aggregations/year=2024/month=06/day=01/hour=00/bad.gz';
    await env.s3.send(
      new PutObjectCommand({ Bucket: env.config.buckets.analytics, Key: key, Body: 'not gzip, not json' }),
    );
    const human = await cli(['results', ...local(), '--date', '2024-06-01', '--hour', '0']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(new RegExp(`✗ ${key}: the key ends in .gz but the object is not gzip`));
    expect(human.stderr).toMatch(/paypipe: 1 damaged object in .*; the results above are incomplete/);
    const json = await cli(['results', ...local(), '--date', '2024-06-01', '--hour', '0', '--json']);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as ResultsDoc).problems).toMatchObject([
      { key, kind: 'not_gzip', salvaged: 0 },
    ]);
    const accepted = await cli([
      'results',
      ...local(),
      '--date',
      '2024-06-01',
      '--hour',
      '0',
      '--allow-damaged',
      '--json',
    ]);
    expect(accepted.code).toBe(0);
    expect((JSON.parse(accepted.stdout) as ResultsDoc).complete).toBe(false);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });
});
