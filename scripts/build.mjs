// Transpiles src/**/*.ts to dist/ (one file per module, no bundling) so the CLI keeps its lazy
// imports and starts fast. Type checking is `npm run typecheck`; this step only strips types.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: join(root, 'dist'),
  outbase: join(root, 'src'),
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
