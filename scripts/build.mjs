// Transpiles src/**/*.ts to dist/ (one file per module, so heavy code loads only when a command needs
// it) and bundles the CLI entry (dist/cli/entry.js, see below). Type checking is `npm run typecheck`;
// this step only strips types.
import { readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const entries = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) entries.push(p);
  }
};
walk(join(root, 'src'));
// `--out DIR` builds elsewhere (tests build private copies so parallel suites never share a dist/).
const outIdx = process.argv.indexOf('--out');
const outDir = outIdx === -1 ? join(root, 'dist') : resolve(process.argv[outIdx + 1] ?? 'dist');
rmSync(outDir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: outDir,
  outbase: join(root, 'src'),
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});

// The CLI entry, bundled: commander and the light command modules in one ESM file, so `paypipe --help`
// reads a handful of files instead of ~40 and skips commander's CJS-to-ESM translation. Every other
// project import stays external and points at the per-module files above (heavy code still loads only
// on use, and shared classes keep one identity).
const distCli = join(outDir, 'cli');
await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: join(distCli, 'entry.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Every process parses this file first (`--help` and `--version` parse little else): without the
  // whitespace and with simpler syntax it is ~40% smaller and cold start ~10% faster. Names stay, so
  // stack traces under --debug read as before (and the source map maps them back).
  minifyWhitespace: true,
  minifySyntax: true,
  // commander is CommonJS and requires node builtins.
  banner: {
    js: "import { createRequire as __pp_createRequire } from 'node:module'; const require = __pp_createRequire(import.meta.url);",
  },
  plugins: [
    {
      name: 'lazy-imports-stay-external',
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          if (args.kind === 'entry-point') return undefined;
          if (!args.path.startsWith('.')) {
            // commander goes into the bundle; every other package stays a plain import.
            return args.path === 'commander' && args.kind !== 'dynamic-import'
              ? undefined
              : { path: args.path, external: true };
          }
          const abs = resolve(args.resolveDir, args.path);
          if (!abs.startsWith(join(root, 'src'))) return undefined; // inside commander itself
          // Only the command modules are inlined; any other project module stays the one shared
          // per-module file, so classes such as PaypipeError keep a single identity.
          // Each feature's commander wiring is `src/cli/<feature>/command.ts` (or `<name>-command.ts`).
          if (
            args.kind !== 'dynamic-import' &&
            /[\\/]src[\\/]cli[\\/][^\\/]+[\\/]([a-z-]+-)?command\.(ts|js)$/.test(abs)
          ) {
            return undefined;
          }
          const inDist = abs.replace(join(root, 'src'), outDir);
          let rel = relative(distCli, inDist);
          if (!rel.startsWith('.')) rel = `./${rel}`;
          return { path: rel, external: true };
        });
      },
    },
  ],
});

// `paypipe --help` as the CLI prints it at 80 columns (a pipe, or an 80-column terminal), rendered
// here by the entry just built, so bin/paypipe.js can print it without parsing and compiling the CLI
// (Node 20 has no compile cache for ES modules; loading the entry is most of a cold start).
// test/cli/bin.test.ts holds the copy byte-equal to what the entry prints live.
{
  const { spawnSync } = await import('node:child_process');
  const { copyFileSync, existsSync, writeFileSync } = await import('node:fs');
  // The entry reads its version from the package.json beside dist/: an `--out` build is laid out
  // the same way (the suites and benches that build elsewhere copy it there anyway).
  const pkg = join(outDir, '..', 'package.json');
  if (!existsSync(pkg)) copyFileSync(join(root, 'package.json'), pkg);
  const { pathToFileURL } = await import('node:url');
  const entryUrl = pathToFileURL(join(distCli, 'entry.js')).href;
  const script = `const { main } = await import(${JSON.stringify(entryUrl)}); await main(['node', 'paypipe', '--help']);`;
  // stdout is a pipe here, so commander wraps at 80 columns whatever terminal runs the build.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  if (r.status !== 0 || !r.stdout.startsWith('Usage: paypipe')) {
    throw new Error(`rendering paypipe --help failed (exit ${r.status}): ${r.stderr}`);
  }
  writeFileSync(join(distCli, 'help-80.txt'), r.stdout);
}
