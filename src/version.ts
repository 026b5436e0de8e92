/**
 * The paypipe version (package.json). The stack records it as an output when it is synthesized,
 * and the CLI compares it with its own, so a stack deployed by another paypipe is named as such
 * instead of failing on an output it happens to lack. Usable from every layer, like errors.ts.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function paypipeVersion(): string {
  // src/version.ts and dist/version.js both sit one level below package.json.
  cached ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
