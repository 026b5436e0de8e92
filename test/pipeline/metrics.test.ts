/**
 * EMF lines written and read back (the local pipeline's only source of metrics), and the local
 * evaluation of the stack's alarm definitions. Adversaries: any values, hostile log lines (a torn
 * line, another namespace, NaN, prototype keys), and period edges.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alarmDefinitions, evaluateLocal, evalExpression } from '../../src/pipeline/alarms.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { emfLine, type MetricDatum, METRICS_NAMESPACE, parseEmf } from '../../src/pipeline/metrics.js';

const name = fc.stringMatching(/^[A-Z][A-Za-z]{0,15}$/).filter((n) => !['Timestamp'].includes(n));

describe('EMF', () => {
  it('what emfLine writes, parseEmf reads back exactly (finite values; others left out)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.constantFrom('aggregator' as const, 'producer' as const),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
        fc.option(fc.stringMatching(/^[a-z_]{1,20}$/), { nil: undefined }),
        fc.dictionary(name, fc.oneof(fc.double(), fc.integer()), { maxKeys: 8 }),
        (t, service, environment, reason, values) => {
          const dims = reason === undefined ? { service, environment } : { service, environment, reason };
          const back = parseEmf(emfLine(t, dims, values, {}));
          // (JSON has no -0: it reads back as 0, the same count.)
          const finite = Object.entries(values)
            .filter(([, v]) => Number.isFinite(v))
            .map(([k, v]) => [k, v === 0 ? 0 : v]);
          expect(back.map((d) => [d.name, d.value])).toEqual(finite);
          for (const d of back) expect(d).toMatchObject({ t, service, environment, reason });
        },
      ),
    );
  });

  it('any other text is no metric, and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constant('{"_aws":')), (line) => {
        const d = parseEmf(line);
        for (const x of d) expect(Number.isFinite(x.value)).toBe(true);
      }),
    );
    const valid = emfLine(1, { service: 'aggregator', environment: 'e' }, { RecordsIn: 3 }, {});
    expect(parseEmf(valid.slice(0, -5))).toEqual([]);
    expect(parseEmf(valid.replace(METRICS_NAMESPACE, 'Other'))).toEqual([]);
    expect(parseEmf(valid.replace('"RecordsIn":3', '"RecordsIn":"3"'))).toEqual([]);
    expect(
      parseEmf(
        '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Paypipe","Metrics":[{"Name":"__proto__"}]}]},"service":"a","environment":"e"}',
      ),
    ).toEqual([]);
  });
});

describe('alarms evaluated locally', () => {
  const config = resolveConfig({ environment: 'dev', alarmEvaluationPeriods: 2, alarmRejectPercent: 5 });
  const rejects = alarmDefinitions(config).find((d) => d.id === 'rejects');
  if (rejects === undefined) throw new Error('no rejects alarm');
  const at = (t: number, name: string, value: number): MetricDatum => ({
    t,
    name,
    value,
    service: 'aggregator',
    environment: config.stackName,
  });
  const minute = (i: number) => Date.UTC(2025, 0, 15, 10, i);

  it('ALARM exactly when every evaluated period breaches (the current, filling one included)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ records: fc.integer({ min: 1, max: 1000 }), rejected: fc.nat({ max: 1000 }) }), {
          minLength: 2,
          maxLength: 2,
        }),
        fc.integer({ min: 0, max: 59_999 }),
        (periods, into) => {
          const data = periods.flatMap((p, i) => [
            at(minute(i) + 1, 'RecordsIn', p.records),
            at(minute(i) + 2, 'RecordsRejected', Math.min(p.rejected, p.records)),
          ]);
          const r = evaluateLocal(rejects, data, minute(1) + into);
          const breach = periods.every((p) => (100 * Math.min(p.rejected, p.records)) / p.records > 5);
          expect(r.state).toBe(breach ? 'ALARM' : 'OK');
        },
      ),
    );
  });

  it('data outside the evaluated periods does not count; missing periods are not breaching here', () => {
    const old = [at(minute(0), 'RecordsIn', 10), at(minute(0), 'RecordsRejected', 10)];
    expect(evaluateLocal(rejects, old, minute(5)).state).toBe('OK');
    const onlyNow = [at(minute(5), 'RecordsIn', 10), at(minute(5), 'RecordsRejected', 10)];
    expect(evaluateLocal(rejects, onlyNow, minute(5) + 10).state).toBe('OK');
  });

  it('the producer alarm treats no runs as breaching', () => {
    const producer = alarmDefinitions(config).find((d) => d.id === 'producer-schedule');
    expect(producer && evaluateLocal(producer, [], minute(5)).state).toBe('ALARM');
    const ran: MetricDatum = { ...at(minute(5), 'ProducerRuns', 1), service: 'producer' };
    expect(producer && evaluateLocal(producer, [ran], minute(5) + 1).state).toBe('OK');
  });

  it('metric math: the expression language agrees with arithmetic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 1e6 }), (a, b) => {
        expect(evalExpression('100 * rejected / records', { rejected: a, records: b })).toBeCloseTo(
          (100 * a) / b,
        );
        expect(evalExpression('errors + throttles', { errors: a, throttles: b })).toBe(a + b);
        expect(evalExpression('(a - b) * 2', { a, b })).toBe((a - b) * 2);
      }),
    );
    expect(evalExpression('unknown + 1', {})).toBeNaN();
  });
});
