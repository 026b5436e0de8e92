/** Helpers shared by the benches (the runner skips files starting with `_`). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Median of the samples (the mean of the middle two for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** `npm run bench -- --quick`: fewer rounds and sizes, for iterating (results.json is not written). */
export const QUICK = process.env.PAYPIPE_BENCH_QUICK === '1';

/** Median and spread: the quartiles for 4 samples or more, else min and max. */
export function spread(xs: readonly number[]): { median: number; lo: number; hi: number } {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length < 4) return { median: median(s), lo: s[0] as number, hi: s.at(-1) as number };
  const q = (p: number): number => {
    const at = (s.length - 1) * p;
    const i = Math.floor(at);
    return (s[i] as number) + ((s[Math.min(i + 1, s.length - 1)] as number) - (s[i] as number)) * (at - i);
  };
  return { median: median(s), lo: q(0.25), hi: q(0.75) };
}

/**
 * Runs every subject once to warm up, then `rounds` rounds of each, interleaved (A B A B…, the
 * order reversed every other round so neither side always runs on a warmer or busier machine).
 * Returns each subject's samples in round order, so ratios can be taken per round.
 */
export async function interleave<K extends string, S>(
  rounds: number,
  subjects: Record<K, () => S | Promise<S>>,
  onSample?: (name: K, round: number, sample: S) => void,
): Promise<Record<K, S[]>> {
  const names = Object.keys(subjects) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as S[]])) as Record<K, S[]>;
  for (const n of names) await subjects[n]();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const n of order) {
      const s = await subjects[n]();
      out[n].push(s);
      onSample?.(n, r, s);
    }
  }
  return out;
}

/** Median of the per-round ratios a[i] / b[i] (paired rounds: drift on a shared machine cancels). */
export const pairedRatio = (a: readonly number[], b: readonly number[]): number =>
  median(a.map((x, i) => x / (b[i] as number)));

export interface ChildRun {
  wallS: number;
  /** User + system CPU of the child itself. */
  cpuS: number;
  /** Peak RSS of the child (getrusage maxRSS). */
  maxRssMiB: number;
  stdout: string;
}

/**
 * Runs `node args…` in a fresh process with the rusage preload (bench/ceilings/rusage-preload.mjs):
 * wall time seen from here, CPU time and peak RSS as the kernel accounted them for that process.
 */
export function runNode(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ChildRun {
  const root = repoRoot();
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-bench-rusage-'));
  const file = join(dir, 'rusage.json');
  try {
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      ['--import', pathToFileURL(join(root, 'bench', 'ceilings', 'rusage-preload.mjs')).href, ...args],
      {
        cwd: opts.cwd ?? root,
        encoding: 'utf8',
        maxBuffer: 1024 * 2 ** 20,
        env: {
          ...process.env,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          NO_COLOR: '1',
          ...opts.env,
          PAYPIPE_BENCH_RUSAGE_FILE: file,
        },
      },
    );
    const wallS = (performance.now() - t0) / 1000;
    if (r.status !== 0)
      throw new Error(`node ${args.slice(0, 2).join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
    const u = JSON.parse(readFileSync(file, 'utf8')) as {
      userUs: number;
      systemUs: number;
      maxRssKiB: number;
    };
    return { wallS, cpuS: (u.userUs + u.systemUs) / 1e6, maxRssMiB: u.maxRssKiB / 1024, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An executable on PATH (never an absolute path baked in), or undefined. */
export function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d !== '' && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

/** `1,234` */
export const count = (n: number): string => n.toLocaleString('en-US');

/** The paypipe checkout: cwd or one of its parents (npm run bench runs from the root). */
export function repoRoot(): string {
  for (let d = process.cwd(); ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'paypipe')
      return d;
    if (dirname(d) === d) throw new Error('run the bench from the paypipe checkout');
  }
}

/** Progress for the person running the bench (stderr; the table goes to stdout). */
export const log = (s: string): void => {
  process.stderr.write(`  ${s}\n`);
};

/**
 * Bench data in the format the aggregator writes: batch output lines (src/domain/batch-output.ts),
 * one per batch, batches taking turns over `shards` shards with consecutive, disjoint sequence
 * ranges, each with `windows` windows × the 5 currencies of cells. Figures are deterministic.
 */
export class BatchOutputSource {
  private readonly next: bigint[];
  private n = 0;

  constructor(
    private readonly shards: number,
    private readonly windows: number,
    private readonly render: typeof import('../src/domain/batch-output.js').renderBatchOutput,
  ) {
    this.next = Array.from({ length: shards }, () => 49_650_000_000_000_000_000_000_000n);
  }

  /** One batch output line whose windows start at `windowStartMs` (a minute each). */
  line(windowStartMs: number): string {
    const k = this.n++;
    const shard = k % this.shards;
    const first = this.next[shard] as bigint;
    const records = 400 + (k % 200);
    const last = first + BigInt(records - 1) * 1_000_000n;
    this.next[shard] = last + 1_000_000n;
    const cells = [];
    for (let w = 0; w < this.windows; w++) {
      for (const [c, currency] of ['AUD', 'EUR', 'GBP', 'JPY', 'USD'].entries()) {
        // At most 20 × 20 = 400 payments, never more than the batch has records.
        const count = 1 + ((k + w + c) % 20);
        const min = 100;
        const max = 1000 + ((k * 7 + c) % 997);
        cells.push({
          windowStartMs: windowStartMs + w * 60_000,
          currency,
          totals: {
            count,
            totalMinor: count === 1 ? max : min + max + (count - 2) * 500,
            minMinor: min,
            maxMinor: max,
          },
        });
      }
    }
    const [only] = this.render(
      {
        shardId: `shardId-${String(shard).padStart(12, '0')}`,
        firstSequenceNumber: first.toString(),
        lastSequenceNumber: last.toString(),
      },
      records,
      cells,
      60_000,
    );
    return only as string;
  }
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where a profile's time went, as one line for a report: self time grouped into the AWS SDK,
 * zlib, GC, other Node internals, and paypipe's own functions (by name and file), top `n` shares.
 */
export function profileSummary(p: CpuProfile, n = 6): string {
  const root = repoRoot();
  const byId = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const share = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const f = byId.get(p.samples[i] as number);
    if (f === undefined || f.functionName === '(idle)' || f.functionName === '(program)') continue;
    total += dt;
    // Bench bundles live under node_modules/.cache: their code is paypipe's (and the bench's).
    // Paths relative to the checkout: no machine's directory layout in a report.
    const u = f.url
      .replace(/^.*node_modules\/\.cache\/paypipe-bench\//, 'bench/')
      .replace(`file://${root}/`, '');
    const group = /node_modules\/(@aws-sdk|@smithy)\//.test(u)
      ? 'AWS SDK'
      : /node_modules\//.test(u)
        ? `${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1]}`
        : u.startsWith('node:zlib') || /^(processChunk|Zlib|zlib)/.test(f.functionName)
          ? 'zlib'
          : f.functionName === '(garbage collector)'
            ? 'GC'
            : /^node:internal\/(modules|deps\/cjs-module-lexer)/.test(u) ||
                /^(wrapSafe|compileSourceTextModule|compileForInternalLoader)$/.test(f.functionName)
              ? 'module loading'
              : u.startsWith('node:') || u === ''
                ? 'Node internals'
                : `${f.functionName || '(anonymous)'} (${u.replace(/^.*\/(dist|src)\//, '')}:${f.lineNumber + 1})`;
    share.set(group, (share.get(group) ?? 0) + dt);
  }
  return [...share]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, t]) => `${k} ${((100 * t) / total).toFixed(0)}%`)
    .join(', ');
}

const NOT_PROFILED = '(no profile with --quick: the full run takes one)';

/** `node --cpu-prof args…` once; the summary of where its CPU time went. */
export function profileNodeRun(args: readonly string[], intervalUs = 1000): string {
  if (QUICK) return NOT_PROFILED;
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-bench-prof-'));
  try {
    const flags = ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(intervalUs)];
    const r = spawnSync(process.execPath, [...flags, ...args], {
      cwd: repoRoot(),
      encoding: 'utf8',
      maxBuffer: 1024 * 2 ** 20,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' },
    });
    if (r.status !== 0) return `(profile run failed: exit ${r.status})`;
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) return '(no profile written)';
    return profileSummary(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Profiles `fn` in this process (the inspector's sampling profiler); the summary. */
export async function profileInProcess(fn: () => Promise<unknown>): Promise<string> {
  if (QUICK) return NOT_PROFILED;
  const { Session } = await import('node:inspector/promises');
  const s = new Session();
  s.connect();
  try {
    await s.post('Profiler.enable');
    await s.post('Profiler.start');
    await fn();
    const { profile } = (await s.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    return profileSummary(profile);
  } finally {
    s.disconnect();
  }
}
