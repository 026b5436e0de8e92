/**
 * `paypipe up` stops cleanly however it was started and however it is told to — and only one runs
 * per data dir:
 * - behind a shell that does not pass signals on (`sh -c 'paypipe up …; …'`, what `npx` and
 *   `npm run` put between a supervisor and node): the supervisor's SIGTERM kills the shell only;
 *   `up` notices its parent is gone and stops cleanly by itself;
 * - through the real `npx` chain (npm exec → sh → node), SIGTERM to npm;
 * - SIGTERM to the whole process group (systemd's default KillMode, `kill -- -PGID`): the API
 *   servers' process must not die first, so the stop still delivers everything (exit 0);
 * - two or three `up` racing for one data dir (also over a stale lock, with the lock's file-system
 *   calls slowed down to widen every window): exactly one runs, the others say so in one line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPidAlive } from '../../src/local/endpoints.js';
import {
  endpointsOf,
  env,
  lastLine,
  preload,
  processesUsing,
  readEndpoints,
  readStatus,
  send,
  spawnCli,
  UP_ARGS,
  until,
  upSuite,
  verified,
} from '../helpers/up-process.js';

const suite = upSuite();
const { dataDir, removeLater } = suite;

/** After `up` (pid) went away on its own: it stopped cleanly and left nothing running or held. */
async function expectStoppedCleanly(
  d: string,
  upPid: number,
  serverPid: number,
  withinMs: number,
): Promise<void> {
  await until(`up (${upPid}) to exit by itself`, () => !isPidAlive(upPid), withinMs);
  await until('its servers to exit', () => !isPidAlive(serverPid), 5000);
  expect(existsSync(join(d, 'endpoints.json'))).toBe(false);
  expect(existsSync(join(d, 'up.lock'))).toBe(false);
  const st = readStatus(d);
  expect(st?.running).toBe(false);
  expect(st?.stopped).toMatchObject({ complete: true, cutShort: false });
  expect(processesUsing(d)).toEqual([]);
}

describe('signals that stop at a shell', () => {
  it('`up` behind `sh -c` stops cleanly by itself when a SIGTERM kills the shell', async () => {
    const d = dataDir('sh');
    const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
    // The trailing command keeps sh from exec-ing node: it stays in between, like npx's shell.
    const script = `${[process.execPath, suite.cli.bin, ...UP_ARGS(d)].map(q).join(' ')}; echo after`;
    const sh = spawn('/bin/sh', ['-c', script], {
      cwd: suite.cli.dir,
      env: env(suite.cli),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ep = await until('endpoints.json', () => readEndpoints(d));
    suite.killLater(ep.pid);
    expect(ep.pid).not.toBe(sh.pid);
    await send(suite.cli, d, 200, `${d}-sent.json`);
    removeLater(`${d}-sent.json`);
    const shExit = new Promise((r) => sh.once('exit', (_c, sig) => r(sig)));
    sh.kill('SIGTERM');
    expect(await shExit).toBe('SIGTERM');
    // Alive right after its shell died: the signal did not reach it.
    expect(isPidAlive(ep.pid)).toBe(true);
    await expectStoppedCleanly(d, ep.pid, ep.serverPid as number, 8000);
  });

  it('`npx paypipe up`: SIGTERM to npm stops the pipeline', async () => {
    const npx = spawnSync('sh', ['-c', 'command -v npx'], { encoding: 'utf8' }).stdout.trim();
    if (npx === '') {
      console.warn('npx not found: skipping the npx chain test');
      return;
    }
    const d = dataDir('npx');
    const project = join(suite.cli.dir, 'project');
    mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(project, 'package.json'), '{"name":"uses-paypipe","version":"1.0.0","private":true}');
    symlinkSync(suite.cli.bin, join(project, 'node_modules', '.bin', 'paypipe'));
    const npm = spawn(npx, ['--offline', '--no', 'paypipe', ...UP_ARGS(d)], {
      cwd: project,
      env: env(suite.cli, { npm_config_update_notifier: 'false', npm_config_fund: 'false' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    npm.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const ep = await until(`endpoints.json (npx stderr: ${err})`, () => readEndpoints(d), 60_000);
    suite.killLater(ep.pid);
    expect(ep.pid).not.toBe(npm.pid);
    const npmExit = new Promise((r) => npm.once('exit', (c, sig) => r(sig ?? c)));
    npm.kill('SIGTERM');
    await npmExit;
    await expectStoppedCleanly(d, ep.pid, ep.serverPid as number, 8000);
  });
});

describe('SIGTERM to the whole process group', () => {
  it('the servers outlive the signal: the stop delivers everything and exits 0; a restart finds it all', async () => {
    const d = dataDir('pgroup');
    removeLater(`${d}-sent.json`);
    const up = spawnCli(suite.cli, UP_ARGS(d), { detached: true });
    const ep = await endpointsOf(up, d);
    await send(suite.cli, d, 500, `${d}-sent.json`);
    await until('some progress', () => (readStatus(d)?.eventsIn ?? 0) > 0);
    process.kill(-up.pid, 'SIGTERM');
    const exit = await up.exited;
    expect(exit.code, up.stderr()).toBe(0);
    expect(up.stdout()).toContain('Local pipeline stopped cleanly');
    expect(up.stderr()).not.toContain('exited unexpectedly');
    expect(readStatus(d)?.stopped).toMatchObject({ complete: true });
    await until('its servers to exit', () => !isPidAlive(ep.serverPid as number), 5000);

    const again = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(again, d);
    await verified(suite.cli, d, `${d}-sent.json`);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});

describe('several `up` racing for one data dir', () => {
  async function race(d: string, n: number, o: Parameters<typeof spawnCli>[2] = {}) {
    const ups = Array.from({ length: n }, () => spawnCli(suite.cli, UP_ARGS(d), o));
    const winner = await until(
      'one of them to run',
      () => {
        const ep = readEndpoints(d);
        return ups.find((u) => u.pid === ep?.pid);
      },
      60_000,
    );
    const losers = ups.filter((u) => u !== winner);
    for (const l of losers) {
      const exit = await l.exited;
      expect(exit.code, l.stderr()).toBe(1);
      expect(lastLine(l.stderr())).toBe(
        `paypipe: a local pipeline is already running in ${d} (process ${winner.pid}) (use it (commands with --local), stop it with Ctrl-C, or pick another --data-dir)`,
      );
    }
    expect(winner.child.exitCode).toBeNull();
    winner.child.kill('SIGTERM');
    expect((await winner.exited).code, winner.stderr()).toBe(0);
    expect(existsSync(join(d, 'up.lock'))).toBe(false);
  }

  it('three at once on a fresh data dir: one runs, two refuse in one line', async () => {
    await race(dataDir('race3'), 3);
  });

  it('two over a stale lock, with the lock slowed down: one takes it over, the other refuses', async () => {
    const d = dataDir('race-stale');
    // Left by a process that died (a pid above pid_max cannot be alive).
    writeFileSync(join(d, 'up.lock'), String(2 ** 22 + 12345));
    await race(d, 2, {
      preload: [preload('slow-lock.mjs')],
      env: { PAYPIPE_TEST_LOCK_DIR: d, PAYPIPE_TEST_LOCK_PARTIES: '2', PAYPIPE_TEST_LOCK_DELAY_MS: '400' },
    });
  }, 120_000);
});
