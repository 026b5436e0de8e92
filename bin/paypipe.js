#!/usr/bin/env node
// The one catch point: commands return normally (exit 0) or throw; reportError renders the error
// as one line (stack only with --debug) and returns the exit code (1 failure, 2 usage).
// The SDK's "Node 20 is nearing end of support" notice is not ours to print on every command; users can
// still opt back in by setting the variable to false.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// `paypipe --version` needs none of the CLI: print it before loading the entry (parsing and compiling
// commander and every command's wiring is most of a cold start). Same output as commander's.
const only = process.argv.length === 3 ? process.argv[2] : undefined;
if (only === '--version' || only === '-V') {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else if ((only === '--help' || only === '-h') && (await printBuiltHelp())) {
  // printed: the help page the build rendered from this same entry
} else {
  await run();
}

// `paypipe --help` is the page the build rendered (dist/cli/help-80.txt) when commander would wrap
// at 80 columns too: stdout is a pipe or an 80-column terminal (commander's own rule). Any other
// width, PAYPIPE_HELP_CACHE=off, or no rendered page: the CLI renders it.
async function printBuiltHelp() {
  if (process.env.PAYPIPE_HELP_CACHE === 'off') return false;
  const width = (process.stdout.isTTY ? process.stdout.columns : undefined) || 80;
  if (width !== 80) return false;
  const { readFileSync } = await import('node:fs');
  let page;
  try {
    page = readFileSync(new URL('../dist/cli/help-80.txt', import.meta.url), 'utf8');
  } catch {
    return false;
  }
  process.stdout.write(page);
  return true;
}

async function run() {
  const { main, reportError } = await import('../dist/cli/entry.js');

  const closedPipe = (err) => err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';

  // `paypipe logs --follow | head` closes our stdout: that is the reader saying "enough", not a failure.
  process.stdout.on('error', (err) => {
    if (closedPipe(err)) process.exit(process.exitCode ?? 0);
    throw err;
  });
  // `paypipe synth 2>&1 | head -1` closes stderr too, where progress goes. Nobody reads it any more:
  // stop writing there and let the command finish; its result and exit status do not depend on it.
  process.stderr.on('error', (err) => {
    if (!closedPipe(err)) throw err;
    process.stderr.write = () => true;
  });

  try {
    await main(process.argv);
  } catch (err) {
    process.exitCode = reportError(err, process.argv);
  }
}
