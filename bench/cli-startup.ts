/**
 * CLI cold start: `paypipe --help` and `paypipe --version` against `node -e 0` (the floor any Node
 * CLI pays), interleaved fresh processes (node, --help, --version, then the other way round…), so
 * all three see the same machine. Ratio = paypipe ÷ node (lower is better; 1.00× is the floor).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { BenchRow } from './types.js';
import { interleave, log, pairedRatio, profileNodeRun, QUICK, repoRoot, spread } from './_util.js';

const ROUNDS = QUICK ? 7 : 31;

function timeOnce(args: string[]): number {
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  return ms;
}

export async function run(): Promise<BenchRow[]> {
  const bin = join(repoRoot(), 'bin', 'paypipe.js');
  const s = await interleave(ROUNDS, {
    node: () => timeOnce(['-e', '0']),
    help: () => timeOnce([bin, '--help']),
    version: () => timeOnce([bin, '--version']),
  });
  const floor = spread(s.node);
  log(
    `node -e 0 ${floor.median.toFixed(1)} ms, --help ${spread(s.help).median.toFixed(1)} ms, --version ${spread(s.version).median.toFixed(1)} ms`,
  );
  return (['help', 'version'] as const).map((which) => {
    const p = spread(s[which]);
    const ratio = pairedRatio(s[which], s.node);
    return {
      id: `cli-${which}`,
      figure: `cold start: paypipe --${which}`,
      unit: 'ms',
      paypipe: p.median,
      paypipeSpread: [p.lo, p.hi],
      ceilingName: 'node -e 0',
      ceiling: floor.median,
      ceilingSpread: [floor.lo, floor.hi],
      ratio,
      target: '≤ 1.15× node -e 0',
      met: ratio <= 1.15,
      ...(ratio <= 1.15
        ? {}
        : {
            bound: `profile of one paypipe --${which} (100 µs samples): ${profileNodeRun([bin, `--${which}`], 100)}; the absolute gap is ${(p.median - floor.median).toFixed(0)} ms over node's own start. Node 20 has no compile cache for ES modules (module.enableCompileCache is Node 22), so every start parses and compiles the CLI entry (commander and every command's wiring, ~100 KB) and its 8 small modules. What it would take: Node 22's compile cache, or a CommonJS entry run from a V8 code cache (vm.Script cachedData) built at install time`,
          }),
      rounds: ROUNDS,
      note: 'ratio = paypipe ÷ node, median of the per-round ratios',
    };
  });
}
