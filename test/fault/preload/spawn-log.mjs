// Preload (`node --import`) that records every child process this process starts, one line per
// call (the function and the command) in $PAYPIPE_TEST_SPAWN_LOG, before starting it as usual:
// a test can then say "nothing was started", not only "nothing is running any more".
import childProcess from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const log = process.env.PAYPIPE_TEST_SPAWN_LOG;
for (const name of ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync']) {
  const real = childProcess[name];
  childProcess[name] = function (command, ...rest) {
    if (log !== undefined) appendFileSync(log, `${name} ${String(command)}\n`);
    return real.call(this, command, ...rest);
  };
}
syncBuiltinESMExports();
