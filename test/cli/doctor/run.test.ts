/**
 * `paypipe doctor` through the built bin, with no AWS credentials and nothing running: the report
 * on stdout, exit 1 naming the failing checks, and the two things this command got wrong before —
 * a blank region marked "pass", and fixes that dropped the flags picking the target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../../src/cli/doctor/checks.js';
import { type BuiltCli, buildCli, runCli } from '../../helpers/build-cli.js';

let cli: BuiltCli;
let scratch: string;
beforeAll(async () => {
  cli = await buildCli();
  scratch = mkdtempSync(join(tmpdir(), 'paypipe-doctor-'));
});
afterAll(() => {
  cli?.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const report = (stdout: string) => JSON.parse(stdout) as DoctorReport;

describe('the region doctor reports', () => {
  it('a whitespace AWS_REGION is not a pass: region fails, nothing is called, exit 1', async () => {
    const r = await runCli(cli, ['doctor', '--json'], { env: { AWS_REGION: '  ' } });
    expect(r.code).toBe(1);
    const rep = report(r.stdout);
    expect(rep.checks.map((c) => [c.id, c.status])).toEqual([['region', 'fail']]);
    // The words every command uses for it (the one region resolver), as a failed check.
    expect(rep.checks[0]?.evidence).toBe('AWS_REGION "  " is not an AWS region name');
    expect(rep.checks[0]?.fix).toBe(
      'set AWS_REGION to a region like ap-southeast-2, or unset it; or pass one: `paypipe doctor --region ap-southeast-2`',
    );
    expect(r.stderr.trim().split('\n').at(-1)).toContain('"failed":["region"]');
  });

  it('an empty AWS_REGION means unset: AWS_DEFAULT_REGION is the region', async () => {
    const r = await runCli(cli, ['doctor', '--json'], {
      env: { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1' },
    });
    const region = report(r.stdout).checks.find((c) => c.id === 'region');
    expect(region).toMatchObject({ status: 'pass', evidence: 'us-east-1 (AWS_DEFAULT_REGION)' });
  });

  it('a blank --region reads as one line for people too', async () => {
    const r = await runCli(cli, ['doctor', '--region', ' ', '--env', 'prod']);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('FAIL  Region'));
    expect(lines[at]).toMatch(/--region " " is not an AWS region name$/);
    expect(lines[at + 1]).toContain(
      '→ use a region like ap-southeast-2; or pass one: `paypipe doctor --env prod --region ap-southeast-2`',
    );
  });
});

describe('fixes keep the flags that picked the target', () => {
  it('a local pipeline that is not running: the fix starts it in that data dir', async () => {
    const dir = join(scratch, 'my pipeline');
    const r = await runCli(cli, ['doctor', '--local', '--data-dir', dir, '--json']);
    expect(r.code).toBe(1);
    const running = report(r.stdout).checks[0];
    expect(running).toMatchObject({ id: 'local.running', status: 'fail' });
    expect(running?.fix).toBe(`start it in another terminal: \`paypipe up --data-dir '${dir}'\``);
  });
});
