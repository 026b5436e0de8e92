/**
 * The cloud assembly the local pipeline runs: synthesized from this checkout exactly as `paypipe
 * synth` does (same app, same bundling, so the same asset hashes a deploy uploads), cached under a
 * key of everything that goes into it — the sources (src/**), the lock file, the package version and
 * the environment's resolved configuration. The first local run after a change synthesizes (a few
 * seconds); later runs reuse the cached assembly while that key is unchanged.
 *
 * The cache lives in the system temp directory on purpose: Node resolves a bundle's imports from
 * the directories above it, and a cache inside the project (under node_modules) would let a bundle
 * import packages the Lambda runtime does not have. Nothing above /tmp/paypipe-assemblies holds a
 * node_modules, so an external the bundle lacks fails here as it fails on Lambda.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../infra/paths.js';
import { SYNTH_CONFIG_FILE } from '../local/assembly.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';
import { assertAssemblyDir } from './options.js';

export interface PreparedAssembly {
  dir: string;
  /** The cache key (sources, lock file, version, configuration). */
  key: string;
  /** True when this call synthesized it (a cache miss). */
  synthesized: boolean;
  elapsedMs: number;
}

export interface PrepareOptions {
  /** Cache directory (default `$PAYPIPE_ASSEMBLY_CACHE`, else `<tmpdir>/paypipe-assemblies`). */
  cacheDir?: string;
  /** Package root whose src/ is bundled (default: this installation's). */
  root?: string;
  /** Progress for a cache miss (synthesis takes seconds). */
  onSynth?: () => void;
}

const COMPLETE = '.complete';
/** Assemblies kept in the cache (most recently used first); older ones are removed. */
const KEEP = 6;

export function assemblyCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAYPIPE_ASSEMBLY_CACHE ?? join(tmpdir(), 'paypipe-assemblies');
}

/** sha256 over the files that make the assembly: src/**, the lock file, package.json; and the config. */
export function sourceKey(config: PipelineConfig, root = packageRoot()): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = `${rel}/${name}`;
      const st = statSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else {
        h.update(`${r}\0${st.size}\0`);
        h.update(readFileSync(join(root, r)));
      }
    }
  };
  walk('src');
  for (const f of ['package.json', 'package-lock.json']) {
    if (existsSync(join(root, f))) {
      h.update(`${f}\0`);
      h.update(readFileSync(join(root, f)));
    }
  }
  h.update(JSON.stringify(config));
  return h.digest('hex');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The cached assembly for this configuration and these sources, synthesizing it on a miss. Several
 * processes asking at once (tests in parallel) synthesize it once: one holds a lock directory, the
 * others wait for it to finish (or take over a lock left by a process that died).
 */
export async function prepareLocalAssembly(
  config: PipelineConfig,
  o: PrepareOptions = {},
): Promise<PreparedAssembly> {
  const started = performance.now();
  const root = o.root ?? packageRoot();
  const cache = o.cacheDir ?? assemblyCacheDir();
  if (!existsSync(join(root, 'src', 'lambdas'))) {
    throw new PaypipeError(
      'IO',
      `the local pipeline bundles the functions from ${join(root, 'src')}, which is not there`,
      {
        hint: 'run paypipe from a complete installation or checkout, or pass --assembly <dir> (a `paypipe synth --out <dir>` output)',
      },
    );
  }
  const key = sourceKey(config, root);
  const dir = join(cache, key.slice(0, 24));
  const done = (synthesized: boolean): PreparedAssembly => {
    const now = new Date();
    try {
      // Marks it as recently used, for pruning.
      writeFileSync(join(dir, COMPLETE), now.toISOString());
    } catch {
      // A read-only cache still serves.
    }
    return { dir, key, synthesized, elapsedMs: Math.round(performance.now() - started) };
  };
  if (existsSync(join(dir, COMPLETE))) return done(false);
  mkdirSync(cache, { recursive: true });
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (existsSync(join(dir, COMPLETE))) return done(false);
    // A synthesis takes seconds; a lock older than two minutes belongs to a process that died.
    try {
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
    } catch {
      // Removed meanwhile.
    }
    await sleep(200);
  }
  try {
    if (existsSync(join(dir, COMPLETE))) return done(false);
    o.onSynth?.();
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await synthesize(config, tmp);
    writeFileSync(join(tmp, SYNTH_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    prune(cache, dir);
    return done(true);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The app of `paypipe synth`, bundled, without the cdk-nag gate (it changes no asset). */
async function synthesize(config: PipelineConfig, outdir: string): Promise<void> {
  process.env.CDK_DISABLE_VERSION_CHECK ??= 'true';
  process.env.CDK_DISABLE_CLI_TELEMETRY ??= 'true';
  process.env.NPM_CONFIG_UPDATE_NOTIFIER ??= 'false';
  const { buildApp } = await import('../infra/app.js');
  try {
    const { app } = buildApp(config, {
      outdir,
      validation: false,
      // What the CDK CLI and toolkit set: the template says which asset directory is whose code.
      context: { 'aws:cdk:enable-asset-metadata': true },
    });
    app.synth();
  } catch (e) {
    throw new PaypipeError(
      'CHECK_FAILED',
      `synthesizing ${config.stackName} for the local pipeline failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`,
      { hint: 'run `paypipe synth` for the full report', cause: e },
    );
  }
}

/** Keeps the KEEP most recently used assemblies. */
function prune(cache: string, keep: string): void {
  try {
    const entries = readdirSync(cache)
      .map((n) => join(cache, n))
      .filter((p) => existsSync(join(p, COMPLETE)) && p !== keep)
      .map((p) => ({ p, t: statSync(join(p, COMPLETE)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const e of entries.slice(KEEP - 1)) rmSync(e.p, { recursive: true, force: true });
  } catch {
    // Pruning is housekeeping only.
  }
}

/**
 * The assembly a local run uses: `--assembly <dir>` as given (e.g. `paypipe synth`'s cdk.out, the
 * very thing a deploy uploads), otherwise the cached one for the environment's configuration.
 */
export async function assemblyFor(
  config: PipelineConfig,
  given: string | undefined,
  onSynth: () => void,
): Promise<string> {
  if (given !== undefined) {
    assertAssemblyDir('--assembly', given);
    return given;
  }
  return (await prepareLocalAssembly(config, { onSynth })).dir;
}
