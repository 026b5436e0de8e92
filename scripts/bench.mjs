// `npm run bench [-- --quick] [name…]`: bundles each bench/<name>.ts with esbuild (the repo has no TS
// runtime), runs its exported run() and prints one table: paypipe, the ceiling measured in the same
// run, the ratio, the target, met or not. A full run (all benches, no --quick) writes
// bench/results.json and the README's benchmark table (between its bench markers) from it; a run of
// some benches merges its rows into results.json; --quick (fewer rounds and sizes, under 2 minutes)
// writes nothing. `--readme` only regenerates the README table from the committed results.json.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const readmeOnly = args.includes('--readme');
if (quick) process.env.PAYPIPE_BENCH_QUICK = '1';
const all = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'types.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
// --quick leaves out the benches that take minutes by design (a 60 s soak, end-to-end latency runs).
const SLOW = ['memory', 'local-latency'];
const named = args.filter((a) => !a.startsWith('--'));
const names = named.length > 0 ? named : quick ? all.filter((n) => !SLOW.includes(n)) : all;
// Inside the repo so bundles resolve packages from node_modules (they stay external).
const out = join(root, 'node_modules', '.cache', 'paypipe-bench');
mkdirSync(out, { recursive: true });

const bundle = async (name) => {
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
  return import(pathToFileURL(outfile).href);
};
const table = await bundle('_table');
const resultsFile = join(root, 'bench', 'results.json');
const readmeFile = join(root, 'README.md');
const writeReadme = (doc) =>
  writeFileSync(readmeFile, table.withTable(readFileSync(readmeFile, 'utf8'), doc));

if (readmeOnly) {
  writeReadme(JSON.parse(readFileSync(resultsFile, 'utf8')));
  process.exit(0);
}

const started = performance.now();
const rows = [];
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.ts (have: ${all.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  process.stderr.write(`bench: running ${name}${quick ? ' (quick)' : ''}…\n`);
  const mod = await bundle(name);
  for (const row of await mod.run()) rows.push({ bench: name, ...row });
}
if (quick) process.stderr.write(`bench: --quick left out ${SLOW.join(', ')} (minutes by design)\n`);
const machine = `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(table.renderTable({ date: new Date().toISOString(), machine, rows }));
process.stderr.write(`bench: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
if (quick) {
  process.stderr.write('bench: --quick: bench/results.json and README.md left as they are\n');
} else {
  // Merge by bench: running one bench replaces only its own rows (in the order benches are listed).
  let previous = [];
  try {
    previous = JSON.parse(readFileSync(resultsFile, 'utf8')).rows ?? [];
  } catch {}
  const ran = new Set(rows.map((r) => r.bench));
  const merged = [...previous.filter((r) => !ran.has(r.bench)), ...rows].sort(
    (a, b) => all.indexOf(a.bench) - all.indexOf(b.bench),
  );
  const doc = { date: new Date().toISOString(), machine, rows: merged };
  writeFileSync(resultsFile, `${JSON.stringify(doc, null, 2)}\n`);
  writeReadme(doc);
}
