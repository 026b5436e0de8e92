/**
 * `results --raw`'s streaming accumulator, and the flag and summary parsing `results` relies on.
 * (Aggregation records are merged by the domain's one rule: test/domain/exact-merge.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { RawAccumulator } from '../../../src/cli/results/results-merge.js';
import { parseScenario } from '../../../src/cli/scenario.js';
import { parseExactTotal, readSummaryTotals } from '../../../src/pipeline/send-summary.js';

const W0 = Date.UTC(2024, 0, 15, 10);

describe('RawAccumulator', () => {
  it('sums valid events in range per currency, counts repeated ids and rejects by reason', () => {
    const acc = new RawAccumulator({
      fromMs: W0,
      toMs: W0 + 120_000,
      windowMs: 60_000,
      nowMs: W0 + 3_600_000,
      maxFutureSkewMs: 0,
    });
    const ev = (id: string, amount: number, currency: string, t: number) => ({
      transaction_id: id,
      amount,
      currency,
      merchant: 'M',
      event_timestamp: t,
    });
    acc.add(ev('A', 10.5, 'USD', W0 + 1));
    acc.add(ev('A', 10.5, 'USD', W0 + 1));
    acc.add(ev('B', 0.25, 'USD', W0 + 61_000));
    acc.add(ev('C', 500, 'JPY', W0 + 5));
    acc.add(ev('D', 1, 'USD', W0 + 200_000));
    acc.add(ev('E', -1, 'USD', W0));
    acc.add('garbage');
    expect(Object.fromEntries(acc.byCurrency())).toEqual({
      USD: { count: 3, totalMinor: 2125, minMinor: 25, maxMinor: 1050 },
      JPY: { count: 1, totalMinor: 500, minMinor: 500, maxMinor: 500 },
    });
    expect(acc.duplicateIds).toBe(1);
    expect(acc.outOfRange).toBe(1);
    expect(Object.fromEntries(acc.invalidByReason)).toEqual({ amount_negative: 1, not_object: 1 });
    expect([...acc.perWindow()]).toEqual([
      [W0, 3],
      [W0 + 60_000, 1],
    ]);
  });
});

describe('flag parsing', () => {
  it('parses scenarios and presets with overrides', () => {
    expect(parseScenario('messy,late=0.3,currencies=USD:0.7+EUR:0.3,span=5m')).toEqual({
      scenario: {
        lateShare: 0.3,
        duplicateShare: 0.05,
        malformedShare: 0.02,
        currencies: { USD: 0.7, EUR: 0.3 },
      },
      spanMs: 300_000,
    });
    expect(() => parseScenario('currencies=USD:x')).toThrow(/weight of USD must be a number/);
    expect(() => parseScenario('late-max=10s')).toThrow(/late-max must be a duration from 60s/);
  });

  it('reads send summaries exactly and rejects anything else naming the file', () => {
    expect(parseExactTotal('1234.50', 'USD')).toBe(123450);
    expect(parseExactTotal('1234', 'JPY')).toBe(1234);
    expect(parseExactTotal('1.234', 'USD')).toBeUndefined();
    const doc = {
      kind: 'paypipe.send-summary',
      byCurrency: { USD: { count: 2, total: '0.30' } },
      eventTime: null,
    };
    expect(Object.fromEntries(readSummaryTotals(doc, 's.json').totals)).toEqual({
      USD: { count: 2, totalMinor: 30 },
    });
    expect(() => readSummaryTotals({ kind: 'x' }, 's.json')).toThrow(
      /--verify s.json: is not a send summary/,
    );
    expect(() =>
      readSummaryTotals({ ...doc, byCurrency: { USD: { count: 1, total: '1.001' } } }, 's.json'),
    ).toThrow(/not an exact USD amount/);
  });
});
