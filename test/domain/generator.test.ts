import { describe, expect, it } from 'vitest';
import { currencyExponent } from '../../src/domain/currency.js';
import { validateRecord } from '../../src/domain/event.js';
import {
  DEFAULT_MERCHANTS,
  type GeneratedRecord,
  generateEvents,
  mulberry32,
  recordData,
  recordPartitionKey,
  scenarioProblem,
  take,
} from '../../src/domain/generator.js';
import { toMinor } from '../../src/domain/money.js';

const NOW = Date.UTC(2024, 0, 15, 10, 30, 12, 345);
const ctx = { arrivalMs: NOW + 500, maxFutureSkewMs: 86_400_000 };
const events = (rs: GeneratedRecord[]) => rs.flatMap((r) => (r.kind === 'event' ? [r.event] : []));

describe('mulberry32', () => {
  it('is reproducible and spread over [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });
});

describe('generateEvents', () => {
  it('same seed → same records; different seed → different', () => {
    const a = take(generateEvents({ seed: 7, nowMs: NOW }), 200);
    expect(take(generateEvents({ seed: 7, nowMs: NOW }), 200)).toEqual(a);
    expect(take(generateEvents({ seed: 8, nowMs: NOW }), 200)).not.toEqual(a);
  });

  it('yields valid, realistic events: unique TXN ids, known merchants, mostly USD, correct decimals', () => {
    const es = events(take(generateEvents({ seed: 1, nowMs: NOW }), 5000));
    expect(es).toHaveLength(5000);
    expect(new Set(es.map((e) => e.transaction_id)).size).toBe(5000);
    const byCurrency = new Map<string, number>();
    for (const e of es) {
      expect(e.transaction_id).toMatch(/^TXN\d{10,}$/);
      expect(DEFAULT_MERCHANTS).toContain(e.merchant);
      expect(e.event_timestamp).toBe(NOW);
      const exp = currencyExponent(e.currency) as number;
      expect(toMinor(e.amount, exp)).toEqual({ ok: true, minor: e.amountMinor });
      expect(e.amountMinor).toBeGreaterThan(0);
      const v = validateRecord(Buffer.from(recordData({ kind: 'event', event: e })), ctx);
      expect(v).toEqual({ ok: true, event: e });
      byCurrency.set(e.currency, (byCurrency.get(e.currency) ?? 0) + 1);
    }
    expect([...byCurrency.keys()].sort()).toEqual(['AUD', 'EUR', 'GBP', 'JPY', 'USD']);
    expect((byCurrency.get('USD') as number) / 5000).toBeGreaterThan(0.5);
    // JPY has no decimals, USD amounts have a spread (log-normal): many distinct values.
    for (const e of es.filter((x) => x.currency === 'JPY')) expect(Number.isInteger(e.amount)).toBe(true);
    const usd = es
      .filter((e) => e.currency === 'USD')
      .map((e) => e.amountMinor)
      .sort((a, b) => a - b);
    const median = usd[Math.floor(usd.length / 2)] as number;
    expect(median).toBeGreaterThan(1500);
    expect(median).toBeLessThan(8000);
    expect(new Set(usd).size).toBeGreaterThan(usd.length / 2);
  });

  it('spreads event times over the span, never in the future', () => {
    const es = events(take(generateEvents({ seed: 3, nowMs: NOW, spanMs: 60_000 }), 2000));
    const ts = es.map((e) => e.event_timestamp);
    expect(Math.max(...ts)).toBeLessThanOrEqual(NOW);
    expect(Math.min(...ts)).toBeGreaterThanOrEqual(NOW - 60_000);
    expect(Math.max(...ts) - Math.min(...ts)).toBeGreaterThan(50_000);
  });

  it('now: a clock read once per event, when the event is pulled; the rest matches the nowMs run', () => {
    let t = NOW;
    const reads: number[] = [];
    const now = (): number => {
      t += 1000;
      reads.push(t);
      return t;
    };
    const gen = generateEvents({ seed: 7, now });
    // Lazy: nothing is read before an event is asked for, then one read per event.
    expect(reads).toEqual([]);
    const es = events(take(gen, 50));
    expect(reads).toHaveLength(50);
    expect(es.map((e) => e.event_timestamp)).toEqual(reads);
    // Same seed, same ids/amounts/currencies/merchants as with the fixed clock; only the times differ.
    const fixed = events(take(generateEvents({ seed: 7, nowMs: NOW }), 50));
    expect(es.map((e) => ({ ...e, event_timestamp: 0 }))).toEqual(
      fixed.map((e) => ({ ...e, event_timestamp: 0 })),
    );
    // A constant clock gives exactly the nowMs records.
    expect(take(generateEvents({ seed: 7, now: () => NOW }), 50)).toEqual(
      take(generateEvents({ seed: 7, nowMs: NOW }), 50),
    );
  });

  it('now with a span and duplicates: times within [clock - span, clock]; duplicates do not read it', () => {
    let t = NOW;
    let reads = 0;
    const now = (): number => {
      reads++;
      t += 60_000;
      return t;
    };
    const rs = take(
      generateEvents({ seed: 11, now, spanMs: 30_000, scenario: { duplicateShare: 0.3 } }),
      1000,
    );
    const es = events(rs);
    const unique = new Set(es.map((e) => e.transaction_id)).size;
    expect(unique).toBeLessThan(900);
    expect(reads).toBe(unique);
    // Clock reads are 60 s apart and the span 30 s, so each event's time pins down its read.
    const seen = new Set<string>();
    let read = 0;
    for (const e of es) {
      if (seen.has(e.transaction_id)) continue;
      seen.add(e.transaction_id);
      read++;
      const clock = NOW + read * 60_000;
      expect(e.event_timestamp).toBeLessThanOrEqual(clock);
      expect(e.event_timestamp).toBeGreaterThanOrEqual(clock - 30_000);
    }
  });

  it('scenario: currency mix and merchants', () => {
    const es = events(
      take(
        generateEvents({
          seed: 4,
          nowMs: NOW,
          scenario: { currencies: { BHD: 1, JPY: 1 }, merchants: ['Shop A'] },
        }),
        500,
      ),
    );
    expect(new Set(es.map((e) => e.currency))).toEqual(new Set(['BHD', 'JPY']));
    expect(new Set(es.map((e) => e.merchant))).toEqual(new Set(['Shop A']));
    for (const e of es.filter((x) => x.currency === 'BHD')) {
      expect(toMinor(e.amount, 3)).toEqual({ ok: true, minor: e.amountMinor });
    }
  });

  it('scenario: late, duplicate and malformed shares', () => {
    const rs = take(
      generateEvents({
        seed: 5,
        nowMs: NOW,
        scenario: { lateShare: 0.2, duplicateShare: 0.1, malformedShare: 0.1, lateMaxMs: 600_000 },
      }),
      5000,
    );
    const es = events(rs);
    const bad = rs.filter((r) => r.kind === 'malformed');
    const late = es.filter((e) => e.event_timestamp < NOW);
    const ids = es.map((e) => e.transaction_id);
    const dups = ids.length - new Set(ids).size;
    expect(bad.length / rs.length).toBeGreaterThan(0.07);
    expect(bad.length / rs.length).toBeLessThan(0.13);
    expect(late.length / es.length).toBeGreaterThan(0.12);
    expect(dups / rs.length).toBeGreaterThan(0.06);
    for (const e of late) {
      expect(NOW - e.event_timestamp).toBeGreaterThanOrEqual(60_000);
      expect(NOW - e.event_timestamp).toBeLessThanOrEqual(600_000);
    }
    // Every malformed record is rejected with exactly the reason the generator announces.
    const reasons = new Set<string>();
    for (const r of bad) {
      if (r.kind !== 'malformed') continue;
      const v = validateRecord(Buffer.from(r.data), ctx);
      expect(v.ok ? 'ok' : v.reason).toBe(r.reason);
      expect(recordPartitionKey(r)).toMatch(/^TXN\d+$/);
      reasons.add(r.reason);
    }
    expect(reasons.size).toBeGreaterThanOrEqual(10);
    // A duplicate repeats an earlier event exactly.
    const first = new Map<string, unknown>();
    for (const e of es) {
      const prior = first.get(e.transaction_id);
      if (prior === undefined) first.set(e.transaction_id, e);
      else expect(e).toEqual(prior);
    }
  });

  it.each([
    [{ lateShare: 1.5 }, /lateShare must be from 0 to 1/],
    [{ malformedShare: -0.1 }, /malformedShare/],
    [{ currencies: { XYZ: 1 } }, /"XYZ" is not an ISO 4217 code/],
    [{ currencies: {} }, /at least one currency/],
    [{ currencies: { USD: 0 } }, /weight must be > 0/],
    [{ merchants: [] }, /at least one merchant/],
    [{ merchants: [' '] }, /1-128 characters/],
    [{ lateMaxMs: 10 }, /lateMaxMs/],
  ])('rejects scenario %j', (scenario, msg) => {
    expect(scenarioProblem(scenario)).toMatch(msg);
    expect(() => take(generateEvents({ seed: 1, nowMs: NOW, scenario }), 1)).toThrow(msg);
  });
});
