// Preload (`node --import`) for the racing-`up` fault: the racing processes meet at a barrier at
// their first attempt to create a lock file (up.lock or anything named after it), so they go
// through the lock at the same time, and from there every file-system call on those files is
// delayed. The first
// to arrive waits LOCK_DELAY_MS per call, the second about 1.4 times that: a schedule that makes
// a check-then-remove-then-create lock hand the same stale lock to both.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';

const dir = process.env.PAYPIPE_TEST_LOCK_DIR;
const parties = Number(process.env.PAYPIPE_TEST_LOCK_PARTIES ?? '2');
const base = Number(process.env.PAYPIPE_TEST_LOCK_DELAY_MS ?? '300');
const lock = dir === undefined ? undefined : join(dir, 'up.lock');
const real = { ...fs };
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
let delay;
function arrive() {
  if (delay !== undefined) return;
  real.writeFileSync(join(dir, `.ready-${process.pid}`), String(process.hrtime.bigint()));
  const end = Date.now() + 20_000;
  let ready = [];
  while (Date.now() < end) {
    ready = real.readdirSync(dir).filter((n) => n.startsWith('.ready-'));
    if (ready.length >= parties) break;
    pause(5);
  }
  const order = ready
    .map((n) => ({ pid: Number(n.slice(7)), at: BigInt(real.readFileSync(join(dir, n), 'utf8')) }))
    .sort((a, b) => (a.at < b.at ? -1 : 1))
    .map((x) => x.pid);
  delay = Math.round(base * (1 + 0.42 * Math.max(0, order.indexOf(process.pid))));
}
const onLock = (p) => lock !== undefined && typeof p === 'string' && p.startsWith(lock);
const creates = new Set(['openSync', 'writeFileSync', 'linkSync']);
for (const name of [
  'openSync',
  'readFileSync',
  'writeFileSync',
  'linkSync',
  'renameSync',
  // Not unlinkSync: rmSync calls it internally, and one call should be one delay.
  'rmSync',
  'statSync',
]) {
  fs[name] = function (p, ...rest) {
    if (onLock(p)) {
      if (creates.has(name)) arrive();
      if (delay !== undefined) pause(delay);
    }
    return real[name].call(this, p, ...rest);
  };
}
syncBuiltinESMExports();
