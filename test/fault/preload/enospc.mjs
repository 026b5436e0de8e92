// Preload (`node --import`) for the disk-full fault: while the trigger file exists, every write
// this process makes under the data dir fails with ENOSPC, as on a full file system (a small one
// cannot be mounted where the tests run). The servers' child process is not affected, as a
// separate process writing to another (not full) disk would not be.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const dir = process.env.PAYPIPE_TEST_ENOSPC_DIR;
const trigger = process.env.PAYPIPE_TEST_ENOSPC_TRIGGER;
const full = (p) => dir !== undefined && typeof p === 'string' && p.startsWith(dir) && fs.existsSync(trigger);
const enospc = (p, syscall) =>
  Object.assign(new Error(`ENOSPC: no space left on device, ${syscall} '${p}'`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
    path: p,
  });
for (const name of ['writeFileSync', 'appendFileSync']) {
  const real = fs[name];
  fs[name] = function (p, ...rest) {
    if (full(p)) throw enospc(p, 'open');
    return real.call(this, p, ...rest);
  };
}
syncBuiltinESMExports();
