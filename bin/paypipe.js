#!/usr/bin/env node
// The one catch point: commands return normally (exit 0) or throw; reportError renders the error
// as one line (stack only with --debug) and returns the exit code (1 failure, 2 usage).
// The SDK's "Node 20 is nearing end of support" notice is not ours to print on every command; users can
// still opt back in by setting the variable to false.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main, reportError } = await import('../dist/cli/entry.js');

// `paypipe logs --follow | head` closes our stdout: that is the reader saying "enough", not a failure.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await main(process.argv);
} catch (err) {
  process.exitCode = reportError(err, process.argv);
}
