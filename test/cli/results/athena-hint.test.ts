/** `results` on AWS past a day says how to ask Athena instead (and changes nothing else). */
import { describe, expect, it } from 'vitest';
import { ATHENA_HINT_AFTER_MS, longRangeHint } from '../../../src/cli/results/results.js';
import { parseWithProgram } from '../../helpers/commands.js';

const from = Date.UTC(2024, 10, 1);
const month = { fromMs: from, toMs: Date.UTC(2024, 11, 1) };

describe('results: the Athena hint for long ranges', () => {
  it('past a day on AWS: one line with a pasteable paypipe query command for the same range', async () => {
    const hint = longRangeHint('aws', month, {}) as string;
    expect(hint).toContain('720 hours');
    const cmd = hint.slice(hint.indexOf('paypipe query'));
    expect(cmd).toBe('paypipe query --windows --since 2024-11-01T00:00Z --until 2024-12-01T00:00Z');
    expect(await parseWithProgram(cmd)).toEqual({ ok: true });
  });

  it('not for a day or less, not locally, not for --raw, --files or --verify', () => {
    expect(longRangeHint('aws', { fromMs: from, toMs: from + ATHENA_HINT_AFTER_MS }, {})).toBeUndefined();
    expect(longRangeHint('local', month, {})).toBeUndefined();
    expect(longRangeHint('aws', month, { raw: true })).toBeUndefined();
    expect(longRangeHint('aws', month, { files: true })).toBeUndefined();
    expect(longRangeHint('aws', month, { verify: 'sent.json' })).toBeUndefined();
  });
});
