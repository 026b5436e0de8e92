/** The remembered-outputs file `paypipe deploy` and `paypipe outputs` keep in the data directory. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forgetStackOutputs,
  readRememberedOutputs,
  rememberStackOutputs,
} from '../../src/aws/stack-outputs.js';

describe('remembered outputs', () => {
  it('round-trips per stack and region, and is forgotten on request', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'paypipe-outputs-')), 'nested', '.paypipe');
    const value = {
      stackName: 'paypipe-dev',
      region: 'ap-southeast-2',
      savedAt: '2025-01-15T10:00:00.000Z',
      outputs: { InputStreamName: 'paypipe-dev-input-stream' },
    };
    const file = await rememberStackOutputs(dir, value);
    expect(file).toBe(join(dir, 'outputs-paypipe-dev.json'));
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'ap-southeast-2')).toEqual(value);
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'eu-west-1')).toBeUndefined();
    expect(await readRememberedOutputs(dir, 'paypipe-prod', 'ap-southeast-2')).toBeUndefined();
    writeFileSync(join(dir, 'outputs-paypipe-prod.json'), '{not json');
    expect(await readRememberedOutputs(dir, 'paypipe-prod', 'ap-southeast-2')).toBeUndefined();
    await forgetStackOutputs(dir, 'paypipe-dev');
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'ap-southeast-2')).toBeUndefined();
  });
});
