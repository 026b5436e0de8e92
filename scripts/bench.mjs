// `npm run bench [name…]`: bundles each bench/<name>.ts with esbuild (the repo has no TS runtime) and runs
// its exported run(), then prints one table and writes bench/results.json. Names default to all benches.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const root = new URL('..', import.meta.url).pathname;
const all = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'types.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all;
// Inside the repo so bundles resolve packages from node_modules (they stay external).
const out = join(root, 'node_modules', '.cache', 'paypipe-bench');
mkdirSync(out, { recursive: true });
const rows = [];
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.ts (have: ${all.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  const outfile = join(out, `${name}.mjs`);
  await build({
    entryPoints: [join(root, 'bench', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    packages: 'external',
    logLevel: 'warning',
  });
  process.stderr.write(`bench: running ${name}…\n`);
  const mod = await import(pathToFileURL(outfile).href);
  for (const row of await mod.run()) rows.push({ bench: name, ...row });
}
const fmt = (n) =>
  n === null || n === undefined
    ? '—'
    : Math.abs(n) >= 100
      ? Math.round(n).toLocaleString('en-US')
      : n.toFixed(2);
const table = [
  ['figure', 'paypipe', 'baseline', 'unit', 'ratio', 'target', 'met'],
  ...rows.map((r) => [
    r.figure,
    fmt(r.paypipe),
    fmt(r.baseline),
    r.unit,
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.met === null ? 'n/a' : r.met ? 'yes' : 'NO',
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
for (const [i, r] of table.entries()) {
  console.log(`| ${r.map((c, j) => String(c).padEnd(widths[j])).join(' | ')} |`);
  if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
}
// Merge by bench: running one bench replaces only its own rows.
const resultsFile = join(root, 'bench', 'results.json');
let previous = [];
try {
  previous = JSON.parse(readFileSync(resultsFile, 'utf8')).rows ?? [];
} catch {}
const ran = new Set(rows.map((r) => r.bench));
const merged = [...previous.filter((r) => !ran.has(r.bench)), ...rows];
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
writeFileSync(
  resultsFile,
  `${JSON.stringify({ date: new Date().toISOString(), machine, rows: merged }, null, 2)}\n`,
);
