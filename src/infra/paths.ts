/**
 * Where the stack finds the Lambda sources. Resolved from this module's own location (src/infra in
 * tests, dist/infra in the built CLI — both two levels below the package root), never from the
 * working directory, so `paypipe deploy` works from any directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = (): string => fileURLToPath(new URL('../../', import.meta.url));

export interface LambdaEntries {
  readonly producer: string;
  readonly aggregator: string;
}

/** The handler entry files NodejsFunction bundles (TypeScript; esbuild strips the types). */
export function lambdaEntries(root = packageRoot()): LambdaEntries {
  return {
    producer: join(root, 'src', 'lambdas', 'producer.ts'),
    aggregator: join(root, 'src', 'lambdas', 'aggregator.ts'),
  };
}

/**
 * The lock file NodejsFunction uses to pick the package manager that runs the local esbuild;
 * undefined (NodejsFunction searches upwards from the working directory) when not shipped.
 */
export function lockFile(root = packageRoot()): string | undefined {
  const npm = join(root, 'package-lock.json');
  return existsSync(npm) ? npm : undefined;
}
