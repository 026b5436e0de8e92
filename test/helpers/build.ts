/**
 * Builds dist/ (scripts/build.mjs) only when some src/**.ts is newer than its compiled file, so
 * suites that run the built bin do not rebuild under each other's feet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname;

function stale(): boolean {
  const src = join(repoRoot, 'src');
  const walk = (dir: string): boolean => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (walk(p)) return true;
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(repoRoot, 'dist', relative(src, p)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) return true;
      }
    }
    return false;
  };
  return walk(src);
}

export function ensureBuilt(): void {
  if (stale()) execFileSync(process.execPath, [join(repoRoot, 'scripts/build.mjs')], { cwd: repoRoot });
}
