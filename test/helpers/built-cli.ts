/**
 * A private build of the CLI (test/ops/build-cli.ts: never races another suite's `npm run build`)
 * that is also complete enough for synth/diff/deploy: those bundle the Lambda sources under src/
 * at synth time and pick the package manager from package-lock.json, both found next to dist/.
 * Without them the toolkit fails with a bare "Assembly builder failed".
 */
import { type BuiltCli, buildCli } from './build-cli.js';

export async function buildFullCli(): Promise<BuiltCli> {
  // buildCli links src/ and the lock file already (the local pipeline synthesizes too).
  return buildCli();
}

/** Environment for spawned processes: the SDK's Node-version notice off, no colour. */
export const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  AWS_EC2_METADATA_DISABLED: 'true',
  NO_COLOR: '1',
});
