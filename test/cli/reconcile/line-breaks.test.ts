/**
 * Records with line breaks of their own, end to end on a real local pipeline (kinesalite, s3rver,
 * the aggregator, both Firehose streams), read back by `paypipe query --local` and `paypipe
 * reconcile --local` (DuckDB over the archive).
 *
 * The adversary: a client that puts valid payments pretty-printed over several lines (LF, CRLF, or
 * lone CRs), or compact with a newline at the end. The raw Firehose appends a newline per record,
 * so the archive holds each such record as several lines, and every line reader sees fragments.
 * Before, the aggregator counted them: reconcile reported every fragment as unaccounted and the
 * window's raw count as short of the aggregates (a false alarm), and a SQL total over raw_events
 * differed from `results`. The contract now: such a record is a `line_break` dead letter (never in
 * the totals), and reconcile accounts for each fragment line as a line of that dead letter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { quietIo as quietIoWith } from '../../helpers/io.js';
import { runQuery } from '../../../src/cli/query/query.js';
import { failureOf, renderReconcile, runReconcile } from '../../../src/cli/reconcile/reconcile.js';
import { currencyExponent } from '../../../src/domain/currency.js';
import { serializeEvent, type WireEvent } from '../../../src/domain/event.js';
import {
  makeEvents,
  readDeadLetters,
  readMergedAggregates,
  type RawRecord,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../../helpers/local-pipeline.js';

const quietIo = (): Io => quietIoWith({ NO_COLOR: '1' });

let p: TestPipeline;
let compact: WireEvent[] = [];
/** The multi-line records sent, by how they break their lines. */
const multi: Array<{ how: string; data: string }> = [];
/** Raw lines the multi-line records become (non-empty ones: what a line reader keeps). */
let fragmentLines = 0;

const pretty = (e: WireEvent, eol: string, indent: number | string = 2): string =>
  JSON.stringify(e, null, indent).replace(/\n/g, eol);

beforeAll(async () => {
  p = await startTestPipeline();
  const now = Date.now();
  const events = makeEvents(240, { startMs: now - 3 * 60_000, spanMs: 3 * 60_000, seed: 29, prefix: 'LB' });
  compact = events.slice(0, 200);
  const [a, b, c, d, e, f] = events.slice(200) as [
    WireEvent,
    WireEvent,
    WireEvent,
    WireEvent,
    WireEvent,
    WireEvent,
  ];
  multi.push(
    { how: 'pretty LF', data: pretty(a, '\n') },
    { how: 'pretty CRLF', data: pretty(b, '\r\n') },
    { how: 'pretty CR only', data: pretty(c, '\r') },
    { how: 'pretty tab indent LF', data: pretty(d, '\n', '\t') },
    // The same pretty record twice (a client retry): its lines are in the archive twice.
    { how: 'pretty LF, retried', data: pretty(a, '\n') },
    { how: 'a lone CR between fields', data: serializeEvent(e).replace(',"amount"', ',\r"amount"') },
    // Not a payment over several lines either: its fragments must be accounted for all the same.
    { how: 'broken JSON over lines', data: `{\n"transaction_id": "${f.transaction_id}",\n"amount": ` },
  );
  fragmentLines = multi.reduce((n, m) => n + m.data.split(/\r\n|\r|\n/).filter((l) => l !== '').length, 0);
  const mix: RawRecord[] = [
    ...compact.map((ev) => ({ data: serializeEvent(ev), partitionKey: ev.transaction_id })),
    ...multi.map((m, i) => ({ data: m.data, partitionKey: `multi-${i}` })),
  ];
  // Interleave so the multi-line records land among compact ones in the same objects.
  mix.sort((x, y) => (x.partitionKey < y.partitionKey ? -1 : 1));
  await sendRaw(p, mix);
  await p.waitForIdle({ flush: true });
}, 120_000);
afterAll(() => p?.cleanup());

const local = () => ({ local: true, dataDir: p.dataDir });
/** As if run ten minutes later: nothing can still be in the Firehose buffer (injected clock). */
const later = (): number => Date.now() + 10 * 60_000;

/** Exact minor units of a decimal text, per its currency. */
const minor = (amount: unknown, currency: string): bigint => {
  const e = currencyExponent(currency) as number;
  const [i, f = ''] = String(amount).split('.');
  return BigInt(`${i}${f.padEnd(e, '0').slice(0, e)}`);
};

function expectedTotals(events: readonly WireEvent[]): Record<string, { count: number; minor: bigint }> {
  const out: Record<string, { count: number; minor: bigint }> = {};
  for (const e of events) {
    const t = out[e.currency] ?? { count: 0, minor: 0n };
    t.count++;
    t.minor += minor(e.amount.toFixed(currencyExponent(e.currency) as number), e.currency);
    out[e.currency] = t;
  }
  return out;
}

describe('records with line breaks of their own, through the local pipeline', () => {
  it('the aggregator dead-letters each one as line_break (detail: where, and what to send)', async () => {
    const dead = (await readDeadLetters(p)) as unknown as Array<{
      reason: string;
      detail: string;
      data_base64: string;
    }>;
    const bySent = new Map(dead.map((d) => [Buffer.from(d.data_base64, 'base64').toString('utf8'), d]));
    for (const m of multi) {
      const d = bySent.get(m.data);
      expect(d?.reason, m.how).toBe('line_break');
      expect(d?.detail, m.how).toMatch(
        /^record holds a line break \((LF|CR) at byte \d+\): .*send compact JSON$/,
      );
    }
  });

  it('reconcile passes: every fragment line is a line of its dead letter, every window matches', async () => {
    const r = await runReconcile({ ...local() }, quietIo(), later());
    expect(r.unaccounted).toEqual([]);
    expect(r.mismatches).toEqual([]);
    expect(r.deadLettersWithoutRaw).toEqual([]);
    expect(r.records).toEqual({
      raw: compact.length + fragmentLines,
      counted: compact.length,
      deadLetters: fragmentLines,
      unaccounted: 0,
      fragments: fragmentLines,
    });
    // Each multi-line record (the retried copy too) is one dead letter with its raw record.
    expect(r.deadLetterReasons).toEqual({ line_break: multi.length });
    expect(r.ok).toBe(true);
    expect(failureOf(r)).toBeUndefined();
    expect(renderReconcile(r, quietIo().style)).toMatch(
      new RegExp(`${fragmentLines} lines of the dead letters are lines of records that hold line breaks`),
    );
  });

  it('query totals equal results, and a SQL total over raw_events equals both: the compact events only', async () => {
    const want = expectedTotals(compact);
    const merged = await readMergedAggregates(p);
    expect(merged.issues).toEqual([]);
    const fromResults: Record<string, { count: number; minor: bigint }> = {};
    for (const c of merged.cells) {
      const t = fromResults[c.currency] ?? { count: 0, minor: 0n };
      t.count += c.totals.count;
      t.minor += BigInt(c.totals.totalMinor);
      fromResults[c.currency] = t;
    }
    expect(fromResults).toEqual(want);

    const q = await runQuery({ ...local() }, quietIo());
    const fromQuery = Object.fromEntries(
      q.rows.map((r) => [
        String(r.currency),
        { count: Number(r.transaction_count), minor: minor(r.total_amount, String(r.currency)) },
      ]),
    );
    expect(fromQuery).toEqual(want);

    const raw = await runQuery(
      {
        ...local(),
        sql: 'SELECT currency, count(*) AS n, sum(amount) AS total FROM raw_events WHERE amount IS NOT NULL GROUP BY currency',
      },
      quietIo(),
    );
    const fromRaw = Object.fromEntries(
      raw.rows.map((r) => [
        String(r.currency),
        { count: Number(r.n), minor: minor(r.total, String(r.currency)) },
      ]),
    );
    expect(fromRaw).toEqual(want);
  });

  it('raw_lines holds no line break: the local engine splits at CRLF, CR and LF as Athena does', async () => {
    const q = await runQuery(
      {
        ...local(),
        sql: "SELECT count(*) AS n, count(*) FILTER (WHERE strpos(line, chr(10)) > 0 OR strpos(line, chr(13)) > 0) AS broken FROM raw_lines WHERE line <> ''",
      },
      quietIo(),
    );
    expect(Number(q.rows[0]?.broken)).toBe(0);
    expect(Number(q.rows[0]?.n)).toBe(compact.length + fragmentLines);
  });
});
