/**
 * The merge rule in SQL against the TypeScript merge (itself proven against the ground truth in
 * test/domain/exact-merge.test.ts). The adversary is the same at-least-once world: generated
 * histories of retries, bisections, reported items, partial writes (missing parts), Firehose
 * duplicates and any object order — plus lost outputs (expiry) that leave gaps. Every history's
 * batch outputs are written as archive objects (gzip, spread over arrival hours) and read by the
 * embedded DuckDB through the same views as `paypipe query --local`.
 *
 * Guarantees checked for every history:
 *  - no issue for the TypeScript merge ⇒ no undecided window in SQL, and SQL's figures per
 *    (window, currency) equal the TypeScript's exactly (count, total, min, max);
 *  - issues ⇒ SQL names undecided windows, at least those the TypeScript issues touch, and every
 *    window SQL calls decided has the TypeScript's figures.
 * A foil (the obvious SQL: sum every distinct complete output) fails the first property.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currencyExponent } from '../../src/domain/currency.js';
import { type MergeResult, mergeRecords } from '../../src/domain/exact-merge.js';
import { addObject, type LocalEngine, openEngineOver } from '../../src/local/query-engine.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import {
  duplicatesSql,
  mergedAggregatesSql,
  partitionPredicate,
  reconcileSql,
  totalsPerCurrencySql,
  undecidedWindowsSql,
} from '../../src/pipeline/query-sql.js';
import { queryTables } from '../../src/pipeline/tables.js';
import { outputOf, type SimRecord, simulate, worldArb, type World } from '../factories/merge-histories.js';

const tables = queryTables(resolveConfig());
let root: string;
let dir: string;
let engine: LocalEngine;
let run = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'paypipe-sql-merge-'));
  dir = join(root, 'tables');
  mkdirSync(dir);
  engine = await openEngineOver(tables, dir);
});
afterAll(() => {
  engine?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Replaces the archive's batch outputs with `lines`, in objects of up to 5 records over two hours. */
function archive(lines: readonly string[], spread: readonly number[]): void {
  rmSync(join(dir, 'batch_outputs'), { recursive: true, force: true });
  mkdirSync(join(dir, 'batch_outputs'));
  for (let i = 0, o = 0; i < lines.length; o++) {
    const n = 1 + ((spread[o] ?? 3) % 5);
    const hour = 10 + ((spread[o] ?? 0) % 2);
    const body = lines.slice(i, i + n).join('');
    addObject(
      dir,
      'batch_outputs',
      `aggregations/year=2024/month=01/day=15/hour=${hour}/obj-${run}-${o}.json.gz`,
      gzipSync(body),
    );
    i += n;
  }
  // Views are lazy: a fresh directory is read by the next query. Empty-table marker back in place.
  const empty = join(dir, 'batch_outputs', 'year=1970', 'month=01', 'day=01', 'hour=00');
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(empty, 'empty.json'), '');
  run++;
}

interface Fig {
  count: number;
  total: bigint;
  min: bigint;
  max: bigint;
}
const k = (w: string, c: string): string => `${w}|${c}`;
/** A decimal text with any scale → integer in thousandths (exact). */
const milli = (s: string): bigint => {
  const [i, f = ''] = s.split('.');
  return BigInt(i as string) * 1000n + BigInt(`${f}000`.slice(0, 3));
};
const tsMilli = (minor: number, currency: string): bigint =>
  BigInt(minor) * 10n ** BigInt(3 - (currencyExponent(currency) as number));

function tsCells(m: MergeResult): Map<string, Fig> {
  return new Map(
    m.cells.map((c) => [
      k(new Date(c.windowStartMs).toISOString(), c.currency),
      {
        count: c.totals.count,
        total: tsMilli(c.totals.totalMinor, c.currency),
        min: tsMilli(c.totals.minMinor, c.currency),
        max: tsMilli(c.totals.maxMinor, c.currency),
      },
    ]),
  );
}

/** Windows of the outputs a TypeScript issue's shard/sequence range touches. */
function tsUndecided(m: MergeResult, records: readonly Record<string, unknown>[]): Set<string> {
  const out = new Set<string>();
  for (const i of m.issues) {
    if (i.kind !== 'gap' && i.kind !== 'ambiguous' && i.kind !== 'corrupt_output') continue;
    for (const r of records) {
      if (r.shard_id !== i.shard) continue;
      const f = BigInt(r.first_sequence_number as string);
      const l = BigInt(r.last_sequence_number as string);
      if (l < BigInt(i.from) || f > BigInt(i.to)) continue;
      for (const c of r.aggregates as Array<{ window_start: string }>) out.add(c.window_start);
    }
  }
  return out;
}

async function sqlMerge(): Promise<{
  cells: Map<string, Fig & { decided: boolean }>;
  undecided: Set<string>;
  problems: number;
}> {
  const rows = (await engine.query(mergedAggregatesSql('duckdb'))).rows;
  const cells = new Map<string, Fig & { decided: boolean }>();
  for (const r of rows) {
    cells.set(k(r.window_start as string, r.currency as string), {
      count: Number(r.transaction_count),
      total: milli(String(r.total_amount)),
      min: milli(String(r.min_amount)),
      max: milli(String(r.max_amount)),
      decided: r.decided === true,
    });
  }
  const problems = (await engine.query(undecidedWindowsSql('duckdb'))).rows;
  const undecided = new Set(
    problems.map((p) => p.window_start).filter((w): w is string => typeof w === 'string'),
  );
  return { cells, undecided, problems: problems.length };
}

const fig = ({ count, total, min, max }: Fig): Fig => ({ count, total, min, max });

async function check(
  w: World,
  drops: readonly number[],
  spread: readonly number[],
): Promise<{ issues: boolean }> {
  const h = simulate(w);
  const lost = new Set(drops.map((d) => d % Math.max(1, h.written.length)));
  const written = h.written.filter((_, i) => !lost.has(i));
  const lines = [...written];
  for (const d of w.duplicates) if (lines.length > 0) lines.push(lines[d % lines.length] as string);
  archive(lines, spread);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const ts = mergeRecords(records);
  const tsc = tsCells(ts);
  const sql = await sqlMerge();
  const hard = ts.issues.filter(
    (i) => i.kind === 'gap' || i.kind === 'ambiguous' || i.kind === 'corrupt_output',
  );
  if (hard.length === 0) {
    expect(sql.problems).toBe(0);
    expect(new Map([...sql.cells].map(([key, c]) => [key, fig(c)]))).toEqual(tsc);
    expect([...sql.cells.values()].every((c) => c.decided)).toBe(true);
    return { issues: false };
  }
  expect(sql.problems).toBeGreaterThan(0);
  for (const win of tsUndecided(ts, records)) expect(sql.undecided.has(win), win).toBe(true);
  for (const [key, c] of sql.cells) {
    const win = key.split('|')[0] as string;
    expect(c.decided).toBe(!sql.undecided.has(win));
    if (c.decided) expect(fig(c), key).toEqual(tsc.get(key));
  }
  for (const [key, c] of tsc) {
    if (!sql.undecided.has(key.split('|')[0] as string))
      expect(sql.cells.get(key) && fig(sql.cells.get(key) as Fig), key).toEqual(c);
  }
  return { issues: true };
}

describe('the merge in SQL (DuckDB) equals the TypeScript merge', () => {
  it('generated histories with no loss: same figures, nothing undecided', async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, fc.array(fc.nat(), { maxLength: 12 }), async (w, spread) => {
        const r = await check(w, [], spread);
        expect(r.issues).toBe(false);
      }),
      { numRuns: 80 },
    );
  }, 120_000);

  it('generated histories with lost outputs and parts: the same undecided windows (or more), the same decided figures', async () => {
    let withIssues = 0;
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (w, drops, spread) => {
          if ((await check(w, drops, spread)).issues) withIssues++;
        },
      ),
      { numRuns: 80 },
    );
    // Not vacuous: many lost outputs leave a gap the rule must name. Measured over 300 seeds,
    // 7–25 of the 80 cases (median 15) have one; asking for 2 fails only if the generator
    // stops producing them (chance of a false alarm about 1 in a million), where the old
    // "more than 8" failed about 1 run in 50.
    expect(withIssues).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('the [1,5] / [1,3] + [4,10] case: exact; the foil (sum every distinct complete output) double counts', async () => {
    const recs: SimRecord[] = Array.from({ length: 10 }, (_, i) => ({
      seq: BigInt(i + 1) * 10n ** 40n,
      event: {
        transaction_id: `t${i}`,
        amount: i + 1,
        amountMinor: (i + 1) * 100,
        currency: 'USD',
        merchant: 'm',
        event_timestamp: Date.UTC(2024, 0, 15, 10, 30),
      },
    }));
    const r = (a: number, b: number): string[] => outputOf(0, recs.slice(a - 1, b), 1_048_320);
    archive([...r(1, 5), ...r(1, 3), ...r(4, 10), ...r(4, 10)], [4]);
    const sql = await sqlMerge();
    expect(sql.problems).toBe(0);
    expect(fig(sql.cells.get(k('2024-01-15T10:30:00.000Z', 'USD')) as Fig)).toEqual({
      count: 10,
      total: 55_000n,
      min: 1000n,
      max: 10_000n,
    });
    const foil = await engine.query(
      `SELECT sum(u.c.transaction_count) AS n FROM (SELECT DISTINCT digest, aggregates FROM batch_outputs) b CROSS JOIN UNNEST(b.aggregates) AS u(c)`,
    );
    expect(Number(foil.rows[0]?.n)).toBe(15);
  });

  it('sequence numbers of 128 digits order as numbers, not as text or doubles', async () => {
    // Adversary: "9" > "10" as text, and 10^127 and 10^127 + 1 are one double.
    const base = 10n ** 127n;
    const recs: SimRecord[] = [9n, 10n, base, base + 1n].map((seq, i) => ({
      seq,
      event: {
        transaction_id: `t${i}`,
        amount: 1,
        amountMinor: 100,
        currency: 'USD',
        merchant: 'm',
        event_timestamp: Date.UTC(2024, 0, 15, 10, 30),
      },
    }));
    const one = (a: number, b: number): string[] => outputOf(0, recs.slice(a, b + 1), 1_048_320);
    // [9..10] + [10^127..10^127+1] is the chain; [10..10^127] overlaps both and must not be counted.
    archive([...one(0, 1), ...one(2, 3), ...one(1, 2)], [4]);
    const sql = await sqlMerge();
    expect(fig(sql.cells.get(k('2024-01-15T10:30:00.000Z', 'USD')) as Fig).count).toBe(4);
    expect(sql.problems).toBe(0);
    // The TypeScript merge (BigInt) agrees.
    const ts = mergeRecords([...one(0, 1), ...one(2, 3), ...one(1, 2)].map((l) => JSON.parse(l)));
    expect(ts.issues).toEqual([]);
    expect(ts.cells[0]?.totals.count).toBe(4);
  });
});

describe('one SQL text, two dialects', () => {
  // No Trino here: the Athena text is checked for what would certainly fail there (DuckDB-only
  // spellings), and both texts differ only where the dialect switch says.
  const o = { fromMs: Date.UTC(2024, 0, 15, 10), toMs: Date.UTC(2024, 0, 15, 12), windowMs: 60_000 };
  const texts = (d: 'duckdb' | 'trino') => [
    mergedAggregatesSql(d, o),
    undecidedWindowsSql(d, o),
    totalsPerCurrencySql(d, o),
    duplicatesSql(d, o),
    reconcileSql(d, o),
  ];
  it('the Athena text uses no DuckDB-only function, the DuckDB text no Trino-only one', () => {
    for (const t of texts('trino')) {
      expect(t).not.toMatch(
        /regexp_full_match|json_valid|to_json\(|epoch_ms|encode\(|json_extract_string|TIMESTAMPTZ|u\.c\.|regexp_split_to_array|regexp_matches|\bdecode\(/,
      );
      expect(t).toMatch(/WITH RECURSIVE|WITH raw_parsed/);
    }
    for (const t of texts('duckdb')) {
      expect(t).not.toMatch(
        /regexp_like|json_format|from_iso8601|to_unixtime|json_extract_scalar|json_parse|to_utf8|from_utf8|regexp_split\(/,
      );
    }
  });
  it('reconcile splits a dead letter into lines as a line reader does (CRLF, CR, LF) in both dialects', () => {
    const split = String.raw`'\r\n|\r|\n'`;
    expect(reconcileSql('trino', o)).toContain(`regexp_split(x.txt, ${split})`);
    expect(reconcileSql('trino', o)).toContain('try(from_utf8(from_base64(data_base64)))');
    expect(reconcileSql('duckdb', o)).toContain(`regexp_split_to_array(x.txt, ${split})`);
    expect(reconcileSql('duckdb', o)).toContain('try(decode(from_base64(data_base64)))');
  });
  it('the undecided query selects every column its filter names, in both dialects (same shape)', () => {
    for (const d of ['duckdb', 'trino'] as const) {
      const t = undecidedWindowsSql(d, o);
      const named = /named AS [^(]*\(\n\s*SELECT DISTINCT ([^\n]*)\n/.exec(t)?.[1] ?? '';
      for (const col of t.match(/\bn\.(\w+)/g) ?? [])
        expect(named, `${d}: ${col}`).toContain(`.${col.slice(2)}`);
    }
  });
  it("a DuckDB error in our own SQL is an INTERNAL error (exit 1); only the user's --sql is a USAGE error", async () => {
    await expect(engine.query('SELECT nope FROM nowhere')).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(engine.query('SELECT nope FROM nowhere', { userSql: true })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
  it('the partition predicate names whole days and the hours of partial days (Athena prunes on it)', () => {
    expect(partitionPredicate(Date.UTC(2024, 0, 15, 22, 30), Date.UTC(2024, 0, 17, 1))).toBe(
      "((year = '2024' AND month = '01' AND day = '15' AND hour IN ('22', '23')) OR (year = '2024' AND month = '01' AND day = '16') OR (year = '2024' AND month = '01' AND day = '17' AND hour IN ('00', '01')))",
    );
    expect(partitionPredicate(undefined, undefined)).toBe('TRUE');
  });
});

/**
 * Reconcile's accounting of records with line breaks, on DuckDB over generated archives. The
 * adversary: dead letters whose records the raw archive holds as several lines (pretty-printed
 * with LF, CRLF or lone CRs; retried copies; single-line junk such as `}` that is also a line of
 * the pretty ones), objects split anywhere between records — and then one raw line lost, or one
 * stray line added. Every line must be placed exactly once, and a loss or a stray line must be
 * reported, never hidden behind a twin line of another dead letter.
 */
describe('reconcile over records with line breaks (DuckDB)', () => {
  const rl = { fromMs: Date.UTC(2024, 0, 15, 10), toMs: Date.UTC(2024, 0, 15, 11), windowMs: 60_000 };
  let lroot: string;
  let ldir: string;
  let le: LocalEngine;
  let lrun = 0;
  beforeAll(async () => {
    lroot = mkdtempSync(join(tmpdir(), 'paypipe-sql-lines-'));
    ldir = join(lroot, 'tables');
    mkdirSync(ldir);
    le = await openEngineOver(tables, ldir);
  });
  afterAll(() => {
    le?.close();
    rmSync(lroot, { recursive: true, force: true });
  });

  /**
   * The raw archive (`raw`: records, each followed by Firehose's newline, in objects split at the
   * record ends `cuts` pick) and the dead letters of `records`.
   */
  function lay(records: readonly string[], cuts: readonly number[], raw: readonly string[] = records): void {
    for (const t of ['raw_lines', 'dead_letters']) {
      rmSync(join(ldir, t), { recursive: true, force: true });
      const empty = join(ldir, t, 'year=1970', 'month=01', 'day=01', 'hour=00');
      mkdirSync(empty, { recursive: true });
      writeFileSync(join(empty, 'empty.json'), '');
    }
    const points = [...new Set([...cuts.map((c) => c % raw.length), raw.length])].sort((x, y) => x - y);
    let last = 0;
    for (const at of points) {
      if (at === last) continue;
      const body = raw
        .slice(last, at)
        .map((r) => `${r}\n`)
        .join('');
      addObject(
        ldir,
        'raw_lines',
        `data/year=2024/month=01/day=15/hour=10/raw-${lrun}-${at}.json.gz`,
        gzipSync(body),
      );
      last = at;
    }
    const dls = records.map((r, i) =>
      JSON.stringify({
        reason: /[\r\n]/.test(r) ? 'line_break' : 'not_json',
        detail: 'x',
        shard_id: 'shardId-000000000000',
        sequence_number: String(1000 + i),
        partition_key: 'k',
        approximate_arrival_timestamp: 1705312800,
        data_base64: Buffer.from(r).toString('base64'),
      }),
    );
    addObject(
      ldir,
      'dead_letters',
      `dead-letters/year=2024/month=01/day=15/hour=10/dl-${lrun}.ndjson`,
      Buffer.from(`${dls.join('\n')}\n`),
    );
    lrun++;
  }

  const findings = async () => {
    const rows = (await le.query(reconcileSql('duckdb', rl))).rows;
    const summary = rows.find((r) => r.kind === 'summary');
    const [counted, unaccounted, fragments] = String(summary?.detail).split('/').map(Number);
    return {
      raw: Number(summary?.raw_count),
      dead: Number(summary?.merged_count),
      counted,
      unaccounted,
      fragments,
      withoutRaw: rows.filter((r) => r.kind === 'dead_letter_without_raw').length,
      stray: rows.filter((r) => r.kind === 'unaccounted').map((r) => String(r.detail)),
      reasons: Object.fromEntries(
        rows
          .filter((r) => r.kind === 'dead_letter_reason')
          .map((r) => [String(r.currency), Number(r.raw_count)]),
      ),
      mismatches: rows.filter((r) => r.kind === 'cell_mismatch').length,
    };
  };

  const ev = fc.record({
    transaction_id: fc.stringMatching(/^[A-Z0-9]{1,8}$/),
    amount: fc.integer({ min: 0, max: 99_999 }).map((c) => c / 100),
    currency: fc.constantFrom('USD', 'EUR'),
    merchant: fc.constantFrom('Amazon', 'Café 東京'),
    event_timestamp: fc.constant(Date.UTC(2024, 0, 15, 10, 5)),
  });
  const record = fc.oneof(
    fc
      .tuple(ev, fc.constantFrom('\n', '\r\n', '\r'), fc.constantFrom(2, 4, '\t'))
      .map(([e, eol, ind]) => JSON.stringify(e, null, ind).replace(/\n/g, eol)),
    ev.map((e) => `${JSON.stringify(e)}\n`),
    fc.constantFrom('}', '{', '  "currency": "USD",', 'junk'),
  );
  const lines = (r: string): string[] => r.split(/\r\n|\r|\n/).filter((l) => l !== '');

  it('every line is placed once; a lost line or a stray one is reported', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(record, { minLength: 1, maxLength: 12 })
          .chain((rs) =>
            fc.tuple(
              fc.constant(rs),
              fc.array(fc.nat(), { maxLength: 4 }),
              fc.nat(),
              fc.subarray([...rs], { maxLength: Math.min(2, rs.length) }),
            ),
          ),
        async ([base, cuts, pick, again]) => {
          const records = [...base, ...again]; // retried copies
          const all = records.flatMap(lines);
          const multiLines = records.filter((r) => /[\r\n]/.test(r)).flatMap(lines).length;
          lay(records, cuts);
          const ok = await findings();
          expect(ok.stray).toEqual([]);
          expect(ok.withoutRaw).toBe(0);
          expect(ok.mismatches).toBe(0);
          expect(ok).toMatchObject({
            raw: all.length,
            dead: all.length,
            counted: 0,
            unaccounted: 0,
            fragments: multiLines,
          });
          expect(Object.values(ok.reasons).reduce((a, b) => a + b, 0)).toBe(
            records.filter((r) => lines(r).length > 0).length,
          );

          // One raw line lost (a damaged object): some dead letter is reported without its raw record.
          const lost = all[pick % all.length] as string;
          const at = records.findIndex((r) => lines(r).includes(lost));
          const parts = (records[at] as string).split(/(\r\n|\r|\n)/);
          const li = parts.indexOf(lost);
          parts.splice(
            li === parts.length - 1 && li > 0 ? li - 1 : li,
            li === 0 && parts.length === 1 ? 1 : 2,
          );
          lay(
            records,
            cuts,
            records.map((r, k) => (k === at ? parts.join('') : r)),
          );
          const gone = await findings();
          expect(gone.withoutRaw).toBeGreaterThan(0);
          expect(gone.raw).toBe(all.length - 1);

          // One stray copy of a line: unaccounted and named — or, when the line is a whole payment
          // (a record that only had a newline at its end), counted, so its window no longer matches.
          lay(records, cuts, [...records, lost]);
          const extra = await findings();
          if (lost.startsWith('{"transaction_id"')) expect(extra.mismatches).toBe(1);
          else expect(extra.stray).toEqual([lost]);
          expect(extra.withoutRaw).toBe(0);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
