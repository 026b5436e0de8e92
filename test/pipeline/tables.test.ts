import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveConfig } from '../../src/pipeline/config.js';
import { hourPrefixes, parsePartition } from '../../src/pipeline/partitions.js';
import {
  basePrefix,
  glueDatabaseName,
  queryTables,
  TABLE_NAMES,
  TABLE_PREFIX_SOURCES,
} from '../../src/pipeline/tables.js';

const config = resolveConfig({ environment: 'dev' });
const t = queryTables(config);

describe('query tables', () => {
  it('derive the database from the stack name under Glue/Athena naming rules', () => {
    expect(t.database).toBe('paypipe_dev');
    // Adversary: any stack name the config accepts (hyphens, digits) must give a legal name.
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,19}$/),
        fc.stringMatching(/^[a-z][a-z0-9-]{0,19}$/),
        (p, e) => {
          const name = glueDatabaseName(resolveConfig({ project: p, environment: e }).stackName);
          expect(name).toMatch(/^[a-z][a-z0-9_]{0,254}$/);
        },
      ),
    );
  });

  it('locate each table under the same prefix its writer uses', () => {
    expect(basePrefix(config.firehose.raw.prefix)).toBe(t.tables.raw_events.prefix);
    expect(t.tables.raw_lines.prefix).toBe(t.tables.raw_events.prefix);
    expect(basePrefix(config.firehose.analytics.prefix)).toBe(t.tables.batch_outputs.prefix);
    expect(t.tables.dead_letters.prefix).toBe(config.aggregator.deadLetterPrefix);
    for (const n of TABLE_NAMES) expect(t.tables[n].prefix).toBe(TABLE_PREFIX_SOURCES[n]);
    expect(t.tables.raw_events.bucket).toBe('raw');
    expect(t.tables.batch_outputs.bucket).toBe('analytics');
    expect(t.tables.dead_letters.bucket).toBe('analytics');
    // Error output is not under a table's location (a table must be able to exclude it).
    for (const n of TABLE_NAMES) {
      expect(config.firehose.raw.errorPrefix.startsWith(t.tables[n].prefix)).toBe(false);
      expect(config.firehose.analytics.errorPrefix.startsWith(t.tables[n].prefix)).toBe(false);
    }
  });

  it('project exactly the partitions Firehose writes (any hour, 2024-2099)', () => {
    const p = t.tables.batch_outputs.parameters('bkt');
    const template = p['storage.location.template'] as string;
    const lo = (k: string) => Number((p[`projection.${k}.range`] as string).split(',')[0]);
    const hi = (k: string) => Number((p[`projection.${k}.range`] as string).split(',')[1]);
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2099, 11, 31, 23) }), (ms) => {
        const [prefix] = hourPrefixes(t.tables.batch_outputs.prefix, ms, ms);
        const part = parsePartition(prefix as string);
        if (part === undefined) throw new Error('no partition');
        const v = { year: part.year, month: part.month, day: part.day, hour: part.hour };
        for (const [k, n] of Object.entries(v)) {
          expect(n).toBeGreaterThanOrEqual(lo(k));
          expect(n).toBeLessThanOrEqual(hi(k));
        }
        const digits = (k: string) => Number(p[`projection.${k}.digits`]);
        const expanded = template.replace(/\$\{(\w+)\}/g, (_, k: string) =>
          String(v[k as keyof typeof v]).padStart(digits(k), '0'),
        );
        expect(expanded).toBe(`s3://bkt/${prefix}`);
      }),
    );
    expect(p['projection.enabled']).toBe('true');
  });

  it('never types money or sequence numbers as floating point', () => {
    for (const n of TABLE_NAMES) {
      for (const c of t.tables[n].columns) expect(c.type).not.toMatch(/double|float|real/);
    }
    const seq = t.tables.batch_outputs.columns.filter((c) => c.name.endsWith('sequence_number'));
    expect(seq.map((c) => c.type)).toEqual(['string', 'string']);
  });
});
