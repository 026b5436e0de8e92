import { describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/cli/doctor/checks.js';
import { renderReport } from '../../../src/cli/doctor/render.js';
import type { Style } from '../../../src/cli/io.js';
import { awsFacts, goodMapping, k, localFacts } from '../../factories/doctor-facts.js';

const plain: Style = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};

describe('renderReport', () => {
  it('one line per check, the fix under anything not passing, then the verdict', () => {
    const f = awsFacts();
    f.consumer = k({
      kind: 'mapping',
      functionName: 'agg',
      mappings: [{ ...goodMapping, MaximumRetryAttempts: -1, BatchSize: 1 }],
    });
    const r = buildReport(f);
    expect(r.counts).toEqual({ pass: 31, warn: 1, fail: 1, 'n/a': 0 });
    expect(r.ok).toBe(false);
    const lines = renderReport(r, plain).split('\n');
    expect(lines[0]).toBe('paypipe doctor: stack paypipe-dev in ap-southeast-2');
    const retries = lines.findIndex((l) => l.startsWith('FAIL  Retry attempts'));
    expect(retries).toBeGreaterThan(0);
    expect(lines[retries + 1]).toMatch(/^ +→ a failing batch blocks its shard/);
    expect(lines.at(-1)).toBe('unhealthy: 31 passed, 1 warning, 1 failed');
  });

  it('n/a is shown as such and counted apart from the passes', () => {
    const text = renderReport(buildReport(localFacts()), plain);
    expect(text).toMatch(/\nn\/a {3}AWS credentials +local pipeline: no AWS account involved\n/);
    expect(text.split('\n').at(-1)).toBe('healthy: 19 passed, 0 warnings, 0 failed, 6 not applicable');
  });

  it('colours only through the style it is given', () => {
    const marks: Style = { ...plain, red: (s) => `<r>${s}</r>`, green: (s) => `<g>${s}</g>` };
    const f = awsFacts();
    f.stack = k({ name: 's' });
    const text = renderReport(buildReport(f), marks);
    expect(text).toContain('<r>FAIL</r>  Stack deployed');
    expect(text).toContain('<g>pass</g>  AWS credentials');
  });
});
