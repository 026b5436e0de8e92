#!/usr/bin/env node
// The one catch point: commands return normally (exit 0) or throw; reportError renders the error
// as one line (stack only with --debug) and returns the exit code (1 failure, 2 usage).
import { main, reportError } from '../dist/cli/main.js';

try {
  await main(process.argv);
} catch (err) {
  process.exitCode = reportError(err, process.argv);
}
