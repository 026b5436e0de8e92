/**
 * Runs once per `vitest run`, before any test file: one private build of the project (the same
 * scripts/build.mjs as `npm run build`, into a temp dir). Every suite that runs the CLI as a user
 * does gets its own copy of it (test/helpers/build-cli.ts) instead of running esbuild again: about
 * twenty suites each spent a node start and a full transpile on the same output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** dist/ of the private build this run made (see test/global-setup.ts). */
    paypipeBuiltDist: string;
  }
}

const root = new URL('..', import.meta.url).pathname;

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-build-'));
  const dist = join(dir, 'dist');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--out', dist], { cwd: root });
  project.provide('paypipeBuiltDist', dist);
  return () => rmSync(dir, { recursive: true, force: true });
}
