/**
 * The deployed stack's outputs: read from CloudFormation (cloudformation.ts, re-exported here for
 * existing importers), and remembered by `paypipe deploy` and `paypipe outputs` in a small JSON
 * file in the data directory, for tools and people without AWS access at hand.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export { describeStack, readStackOutputs } from './cloudformation.js';

// ------------------------------------------------------------------ remembered outputs

/** What `paypipe deploy` / `paypipe outputs` remember between runs. */
export interface RememberedOutputs {
  stackName: string;
  region: string;
  /** ISO time the outputs were read or written. */
  savedAt: string;
  outputs: Record<string, string>;
}

export const outputsFilePath = (dataDir: string, stackName: string): string =>
  join(dataDir, `outputs-${stackName}.json`);

/** Writes `<dataDir>/outputs-<stack>.json` atomically (write + rename). */
export async function rememberStackOutputs(dataDir: string, value: RememberedOutputs): Promise<string> {
  const file = outputsFilePath(dataDir, value.stackName);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}

/** The remembered outputs for this stack and region, or undefined (missing, other region, unreadable). */
export async function readRememberedOutputs(
  dataDir: string,
  stackName: string,
  region: string,
): Promise<RememberedOutputs | undefined> {
  try {
    const v = JSON.parse(await readFile(outputsFilePath(dataDir, stackName), 'utf8')) as RememberedOutputs;
    if (v.stackName !== stackName || v.region !== region || typeof v.outputs !== 'object') return undefined;
    return v;
  } catch {
    return undefined;
  }
}

export async function forgetStackOutputs(dataDir: string, stackName: string): Promise<void> {
  await rm(outputsFilePath(dataDir, stackName), { force: true });
}
