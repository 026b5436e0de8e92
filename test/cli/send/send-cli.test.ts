/**
 * `paypipe send` as a user runs it (private build, real kinesalite/s3rver, the fault proxy).
 *
 * Adversaries: a file that is not events at all (`--from-file README.md` sent 103 invalid records
 * "on purpose"); unsent events dropped into whatever directory the user happened to be in; a
 * message that does not say where they went; `1 objects`.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../../../src/aws/stream-reader.js';
import { aggregateId, renderAggregate } from '../../../src/domain/aggregate.js';
import { encodeNdjson } from '../../../src/pipeline/codec.js';
import { hourPrefixes } from '../../../src/pipeline/partitions.js';
import type { SendSummaryDoc } from '../../../src/pipeline/send-summary.js';
import { type BuiltCli, buildCli, runCli } from '../../helpers/build-cli.js';
import { startTestServers, type TestServers } from '../../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../../proxy/fault-proxy.js';

const root = new URL('../../..', import.meta.url).pathname;

let cli: BuiltCli;
let env: TestServers;
let proxy: FaultProxy;
let work: string;

beforeAll(async () => {
  [cli, env] = await Promise.all([buildCli(), startTestServers()]);
  proxy = await startFaultProxy({ target: env.kinesisEndpoint, seed: 11 });
  work = mkdtempSync(join(tmpdir(), 'paypipe-send-cli-'));
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await env?.close();
  cli?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const local = (): string[] => ['--local', '--data-dir', env.dataDir];

/** Every record on the input stream now, read directly (not through the CLI). */
async function onStream(): Promise<string[]> {
  const out: string[] = [];
  for await (const r of readStream(env.kinesis, env.config.streams.input.name, {
    position: { type: 'trim-horizon' },
    minIntervalMs: 0,
  })) {
    out.push(Buffer.from(r.data).toString('utf8'));
  }
  return out;
}

describe('send --from-file', () => {
  it('refuses a file that is mostly not events, before sending anything', async () => {
    const before = (await onStream()).length;
    const r = await runCli(cli, ['send', ...local(), '--from-file', join(root, 'README.md')], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^paypipe: --from-file \S*README\.md: \d+ of \d+ lines are not valid events \(line 1 is not JSON\); nothing was sent \(.*--allow-invalid/,
    );
    expect((await onStream()).length).toBe(before);

    // The same from stdin.
    const piped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      import('node:child_process').then(({ spawn }) => {
        const c = spawn(process.execPath, [cli.bin, 'send', ...local(), '--from-file', '-'], {
          env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
        });
        let stderr = '';
        c.stderr.on('data', (d) => {
          stderr += String(d);
        });
        c.on('close', (code) => resolve({ code, stderr }));
        c.stdin.end('[\n  {"transaction_id": "T1"},\n  {"transaction_id": "T2"}\n]\n');
      });
    });
    expect(piped.code).toBe(2);
    expect(piped.stderr).toMatch(/--from-file -: 4 of 4 lines are not valid events/);
    expect((await onStream()).length).toBe(before);
  });

  it('sends them with --allow-invalid, and says they are not valid events', async () => {
    const before = (await onStream()).length;
    const file = join(work, 'garbage.txt');
    writeFileSync(file, 'hello\nworld\n{"not":"an event"}\n');
    const r = await runCli(cli, ['send', ...local(), '--from-file', file, '--allow-invalid'], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✓ sent 3 events/);
    expect(r.stdout).toMatch(/3 not valid events \(sent as they are\)/);
    expect((await onStream()).length).toBe(before + 3);
  });

  it('a replay with a few bad records among events still goes through (they are what happened)', async () => {
    const file = join(work, 'mostly-events.ndjson');
    const now = Date.now();
    const events = Array.from({ length: 9 }, (_, i) =>
      JSON.stringify({
        transaction_id: `TXNR${i}`,
        amount: 1.5,
        currency: 'USD',
        merchant: 'M',
        event_timestamp: now,
      }),
    );
    writeFileSync(file, `${[...events, '{broken'].join('\n')}\n`);
    const r = await runCli(cli, ['send', ...local(), '--from-file', file, '--json'], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as SendSummaryDoc;
    expect(s).toMatchObject({ sent: 10, invalid: 1, byCurrency: { USD: { count: 9, total: '13.50' } } });
  });
});

describe('unsent events', () => {
  it('go into the data directory, not the current one, and the message says where', async () => {
    env.pointCliAt({ kinesis: proxy.url });
    proxy.setRules([{ match: { operation: 'PutRecords' }, action: { failEntries: 1 } }]);
    const cwd = join(work, 'somewhere-else');
    mkdirSync(cwd);
    try {
      const r = await runCli(cli, ['send', ...local(), '-n', '3', '--max-attempts', '1'], { cwd });
      expect(r.code).toBe(1);
      expect(readdirSync(cwd)).toEqual([]);
      const dir = join(env.dataDir, 'unsent');
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      const path = join(dir, files[0] as string);
      expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3);
      expect(r.stdout).toContain(`3 events unsent, written to ${path}`);
      const last = r.stderr.trim().split('\n').at(-1) ?? '';
      expect(last).toMatch(/^paypipe: 3 of 3 events were not accepted by \S+ after retries; saved in /);
      expect(last).toContain(path);
      // The resend command keeps the target.
      expect(last).toContain(`\`paypipe send --from-file ${path} --local --data-dir ${env.dataDir}\``);
    } finally {
      proxy.setRules([]);
      env.pointCliAt();
    }
  });
});

describe('plural agreement', () => {
  it('results over exactly one object says "1 object"', async () => {
    const W = Date.UTC(2024, 5, 1, 8, 0);
    const [prefix] = hourPrefixes('aggregations/', W, W);
    const a = renderAggregate(
      aggregateId(
        { shardId: 's', firstSequenceNumber: '1', lastSequenceNumber: '1' },
        new Date(W).toISOString(),
        'USD',
      ),
      W,
      60_000,
      'USD',
      { count: 1, totalMinor: 100, minMinor: 100, maxMinor: 100 },
    );
    await env.s3.send(
      new PutObjectCommand({
        Bucket: env.config.buckets.analytics,
        Key: `${prefix}one.gz`,
        Body: gzipSync(encodeNdjson([a])),
      }),
    );
    const r = await runCli(cli, ['results', ...local(), '--date', '2024-06-01', '--hour', '8'], {
      cwd: work,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/read 1 object \(/);
    expect(r.stdout).toMatch(/· {2}1 object \(.*\) {2}· {2}1 record\b/);
  });
});
