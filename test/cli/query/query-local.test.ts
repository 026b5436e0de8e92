/**
 * `paypipe query --local` and `paypipe reconcile --local` over a real local pipeline (kinesalite,
 * s3rver, the aggregator, both Firehose streams): the SQL's merged aggregates equal the TypeScript
 * merge `results` uses on the same objects, and after a messy send (duplicates and malformed
 * records) every raw record is in exactly one place. The adversary then removes evidence — a dead
 * letter object, an aggregate object — and reconcile must fail and say where.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currencyExponent } from '../../../src/domain/currency.js';
import { generateEvents, recordData, recordPartitionKey, take } from '../../../src/domain/generator.js';
import { listKeys } from '../../../src/aws/s3.js';
import { Io } from '../../../src/cli/io.js';
import { renderQuery, runQuery } from '../../../src/cli/query/query.js';
import { failureOf, renderReconcile, runReconcile } from '../../../src/cli/reconcile/reconcile.js';
import { baseEnv } from '../../helpers/built-cli.js';
import { type BuiltCli, buildCli } from '../../helpers/build-cli.js';
import { waitFor } from '../../helpers/wait-for.js';
import { quietIo as quietIoWith } from '../../helpers/io.js';
import {
  readMergedAggregates,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../../helpers/local-pipeline.js';

const sink = (): Writable & { text: string } => {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
};
const quietIo = (): Io => quietIoWith({ NO_COLOR: '1' });

let p: TestPipeline;
const sent = { records: 0, malformed: 0, events: 0, duplicateIds: 0 };
let newFormat = false;

beforeAll(async () => {
  p = await startTestPipeline();
  const nowMs = Date.now();
  const records = take(
    generateEvents({ seed: 13, nowMs, scenario: { duplicateShare: 0.08, malformedShare: 0.08 } }),
    600,
  );
  const ids = new Map<string, number>();
  for (const r of records) {
    sent.records++;
    if (r.kind === 'malformed') sent.malformed++;
    else {
      sent.events++;
      ids.set(r.event.transaction_id, (ids.get(r.event.transaction_id) ?? 0) + 1);
    }
  }
  sent.duplicateIds = [...ids.values()].filter((n) => n > 1).length;
  await sendRaw(
    p,
    records.map((r) => ({ data: recordData(r), partitionKey: recordPartitionKey(r) })),
  );
  await p.waitForIdle();
  const rawKeys = await listKeys(p.s3, p.config.buckets.raw, 'data/');
  newFormat = rawKeys.length > 0 && rawKeys.every((k) => k.endsWith('.json.gz'));
}, 120_000);
afterAll(() => p?.cleanup());

const local = () => ({ local: true, dataDir: p.dataDir });
/** Reconcile as if run ten minutes later: nothing can still be in the Firehose buffer (injected clock). */
const later = (): number => Date.now() + 10 * 60_000;

describe('paypipe query --local', () => {
  it('the raw archive is newline-delimited gzip (.json.gz): what byte-exact accounting needs', () => {
    // Old objects run records together: a truncated record swallows its neighbours.
    expect(newFormat).toBe(true);
  });

  it('merged aggregates per window in SQL equal the TypeScript merge over the same objects', async () => {
    const q = await runQuery({ ...local(), windows: true }, quietIo());
    expect(q.engine).toBe('duckdb');
    const ts = await readMergedAggregates(p);
    expect(ts.issues).toEqual([]);
    const exact = (minor: number, cur: string): string => {
      const e = currencyExponent(cur) as number;
      return (minor / 10 ** e).toFixed(e);
    };
    const fromTs = ts.cells.map((c) => ({
      window_start: new Date(c.windowStartMs).toISOString(),
      currency: c.currency,
      transaction_count: String(c.totals.count),
      total_amount: exact(c.totals.totalMinor, c.currency),
    }));
    const fromSql = q.rows.map((r) => ({
      window_start: r.window_start,
      currency: r.currency,
      transaction_count: String(r.transaction_count),
      total_amount: Number(r.total_amount).toFixed(currencyExponent(String(r.currency)) as number),
    }));
    expect(fromSql).toEqual(fromTs);
    expect(q.rows.every((r) => r.decided === true)).toBe(true);
    const counted = fromTs.reduce((s, c) => s + Number(c.transaction_count), 0);
    expect(counted).toBe(sent.events);
  });

  it('totals per currency, duplicates and any SQL', async () => {
    const t = await runQuery({ ...local() }, quietIo());
    expect(t.question).toBe('totals');
    expect(t.rows.reduce((s, r) => s + Number(r.transaction_count), 0)).toBe(sent.events);
    const d = await runQuery({ ...local(), duplicates: true }, quietIo());
    expect(d.rows.length).toBe(sent.duplicateIds);
    const any = await runQuery({ ...local(), sql: 'SELECT count(*) AS n FROM dead_letters' }, quietIo());
    expect(Number(any.rows[0]?.n)).toBe(sent.malformed);
  });

  it('--undecided runs on DuckDB over the range: none in a clean history, printed as (no rows)', async () => {
    const u = await runQuery({ ...local(), undecided: true }, quietIo());
    expect(u.question).toBe('undecided');
    expect(u.columns.map((c) => c.name)).toEqual([
      'kind',
      'shard_id',
      'from_sequence',
      'to_sequence',
      'window_start',
    ]);
    expect(u.rows).toEqual([]);
    expect(renderQuery(u, quietIo().style)).toBe('(no rows)');
  });

  it('--since/--until with --sql: refused (they would be ignored); --sql says on stderr what it reads', async () => {
    const at = (flag: string, ms: number) => ({
      kind: 'at' as const,
      ms,
      flag,
      text: new Date(ms).toISOString(),
    });
    for (const f of [
      { since: at('--since', Date.now() - 7_200_000) },
      { until: at('--until', Date.now() - 60_000) },
    ]) {
      await expect(runQuery({ ...local(), ...f, sql: 'SELECT 1 AS one' }, quietIo())).rejects.toMatchObject({
        code: 'USAGE',
        message: '--since/--until do not apply to --sql; filter on year/month/day/hour in the SQL',
      });
    }
    const err = sink();
    await runQuery(
      { ...local(), sql: 'SELECT 1 AS one' },
      new Io({ stdout: sink(), stderr: err, env: { NO_COLOR: '1' } }),
    );
    expect(err.text).toMatch(/--sql reads the whole local archive/);
  });

  it('a range too long names only the flags query and reconcile have (no --date)', async () => {
    const since = { kind: 'ago' as const, ms: 40 * 86_400_000, flag: '--since', text: '40d' };
    for (const run of [
      () => runQuery({ ...local(), since }, quietIo()),
      () => runReconcile({ ...local(), since }, quietIo()),
    ]) {
      const e = await run().then(
        () => undefined,
        (x: unknown) => x as { code: string; hint?: string },
      );
      expect(e?.code).toBe('USAGE');
      expect(e?.hint).toBe('narrow it with --since/--until');
    }
  });

  it('bad SQL is one clear usage error, not a stack trace', async () => {
    await expect(runQuery({ ...local(), sql: 'SELECT nope FROM nowhere' }, quietIo())).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/^the query failed: .*nowhere/),
    });
  });
});

describe('Ctrl-C during query --local', () => {
  let built: BuiltCli;
  beforeAll(async () => {
    built = await buildCli();
  }, 120_000);
  afterAll(() => built?.cleanup());

  it('interrupts DuckDB, removes the temporary copy of the data and ends as interrupted, in one line', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'paypipe-sigint-'));
    let running: ReturnType<typeof spawn> | undefined;
    try {
      const copies = (): string[] => readdirSync(tmp).filter((n) => n.startsWith('paypipe-query-'));
      const child = spawn(
        process.execPath,
        [
          built.bin,
          'query',
          '--local',
          '--data-dir',
          p.dataDir,
          '--sql',
          'SELECT count(*) AS n FROM range(0, 1000000000000) t(i) WHERE i % 7 = 3',
        ],
        { env: { ...baseEnv(), HOME: tmp, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      running = child;
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Started: the archive is fetched (its copy exists) and the query is running.
      await waitFor(
        () => /Local archive: /.test(stderr) && copies().length === 1,
        'the query to start',
        60_000,
      );
      child.kill('SIGINT');
      const code = await exited;
      expect(code, stderr).toBe(1);
      const lines = stderr.split('\n').filter((l) => /interrupted/.test(l));
      expect(lines, stderr).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(copies()).toEqual([]);
    } finally {
      // A failed run must not leave a query spinning on a core for the rest of the suite.
      if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('paypipe reconcile --local', () => {
  it('after a messy send every raw record is in exactly one place', async () => {
    const r = await runReconcile({ ...local() }, quietIo(), later());
    expect(r.unaccounted).toEqual([]);
    expect(r.mismatches).toEqual([]);
    expect(r.records).toEqual({
      raw: sent.records,
      deadLetters: sent.malformed,
      counted: sent.events,
      unaccounted: 0,
      fragments: 0,
    });
    expect(r.duplicates.length).toBe(sent.duplicateIds);
    expect(Object.values(r.deadLetterReasons).reduce((a, b) => a + b, 0)).toBe(sent.malformed);
    expect(r.pending).toEqual([]);
    expect(r.ok).toBe(true);
    expect(failureOf(r)).toBeUndefined();
    // Run right away, the window still open is short of nothing here (all delivered): still ok.
    expect((await runReconcile({ ...local() }, quietIo())).ok).toBe(true);
  });

  it('no raw record in the range: not a vacuous ✓ but "no raw records yet", and --json says so', async () => {
    const at = (flag: string, ms: number) => ({
      kind: 'at' as const,
      ms,
      flag,
      text: new Date(ms).toISOString(),
    });
    const flags = {
      ...local(),
      since: at('--since', Date.now() - 3 * 3_600_000),
      until: at('--until', Date.now() - 2 * 3_600_000),
    };
    const r = await runReconcile(flags, quietIo(), later());
    expect(r.records.raw).toBe(0);
    expect(r.noRawRecords).toBe(true);
    const out = renderReconcile(r, quietIo().style);
    expect(out).toMatch(/no raw records in \S+ → \S+ yet \(the Firehose buffer is \d+ s\)/);
    expect(out).not.toContain('✓');
  });

  it('a deleted dead letter object: reconcile fails and names the records', async () => {
    const keys = await listKeys(p.s3, p.config.buckets.analytics, 'dead-letters/');
    expect(keys.length).toBeGreaterThan(0);
    await p.s3.send(new DeleteObjectCommand({ Bucket: p.config.buckets.analytics, Key: keys[0] as string }));
    const r = await runReconcile({ ...local() }, quietIo(), later());
    expect(r.ok).toBe(false);
    expect(r.unaccounted.length + r.mismatches.length).toBeGreaterThan(0);
    expect(failureOf(r)?.code).toBe('CHECK_FAILED');
    // The follow-up it suggests asks about the same range and the same target.
    const since = new Date(Date.now() - 2 * 3_600_000);
    const flags = {
      ...local(),
      since: { kind: 'at' as const, ms: since.getTime(), flag: '--since', text: since.toISOString() },
    };
    const r2 = await runReconcile(flags, quietIo(), later());
    const hint = failureOf(r2, flags)?.hint ?? '';
    expect(hint).toContain(
      `paypipe query --undecided --since ${r2.range.from} --until ${r2.range.to} --local --data-dir ${p.dataDir}`,
    );
    expect(r2.range.from).toBe(since.toISOString());
  });

  it('a deleted aggregate object (a whole output: no gap the merge can see): reconcile fails, naming the window and currency', async () => {
    const keys = await listKeys(p.s3, p.config.buckets.analytics, 'aggregations/');
    await p.s3.send(new DeleteObjectCommand({ Bucket: p.config.buckets.analytics, Key: keys[0] as string }));
    const r = await runReconcile({ ...local() }, quietIo(), later());
    expect(r.ok).toBe(false);
    expect(r.mismatches.length).toBeGreaterThan(0);
    expect(r.mismatches.every((m) => m.raw_count > m.merged_count)).toBe(true);
    expect(failureOf(r)?.message).toMatch(/raw \d+ .* vs aggregates \d+/);
  });

  it('a deleted raw object: its dead letters are listed apart, the dead letter count agrees with the reasons', async () => {
    const keys = await listKeys(p.s3, p.config.buckets.raw, 'data/');
    await p.s3.send(new DeleteObjectCommand({ Bucket: p.config.buckets.raw, Key: keys[0] as string }));
    const r = await runReconcile({ ...local() }, quietIo(), later());
    expect(r.ok).toBe(false);
    expect(r.deadLettersWithoutRaw.length).toBeGreaterThan(0);
    expect(Object.values(r.deadLetterReasons).reduce((a, b) => a + b, 0)).toBe(r.records.deadLetters);
  });
});
