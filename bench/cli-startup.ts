/**
 * CLI cold start: `paypipe --help` against `node -e 0` (the floor any Node CLI pays) and, when the
 * Debian AWS CLI v2 is installed, `/usr/bin/aws --version` (what users ran before). Each figure is
 * the median wall time of several fresh processes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRow } from './types.js';

const RUNS = 11;
// npm runs benches from the repo root.
const root = process.cwd();
const bin = join(root, 'bin', 'paypipe.js');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

function timeCommand(cmd: string, args: string[]): number {
  const samples: number[] = [];
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
  spawnSync(cmd, args, { env, stdio: 'ignore' }); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0 && !(args.includes('--version') && r.status !== null)) {
      throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    }
    samples.push(ms);
  }
  return median(samples);
}

export async function run(): Promise<BenchRow[]> {
  const help = timeCommand(process.execPath, [bin, '--help']);
  const floor = timeCommand(process.execPath, ['-e', '0']);
  const rows: BenchRow[] = [
    {
      figure: 'cold start: paypipe --help vs node -e 0',
      paypipe: help / 1000,
      baseline: floor / 1000,
      unit: 's',
      ratio: floor / help,
      target: '--help ≤ 0.15 s',
      met: help <= 150,
    },
  ];
  if (existsSync('/usr/bin/aws')) {
    const aws = timeCommand('/usr/bin/aws', ['--version']);
    rows.push({
      figure: 'cold start: paypipe --help vs aws --version',
      paypipe: help / 1000,
      baseline: aws / 1000,
      unit: 's',
      ratio: aws / help,
      target: 'faster than aws-cli',
      met: help < aws,
    });
  } else {
    rows.push({
      figure: 'cold start: paypipe --help vs aws --version',
      paypipe: help / 1000,
      baseline: null,
      unit: 's',
      ratio: null,
      target: 'faster than aws-cli',
      met: null,
      note: '/usr/bin/aws not installed (apt-get install -y awscli)',
    });
  }
  return rows;
}
