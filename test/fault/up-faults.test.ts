/**
 * The local pipeline's fault matrix, through `paypipe up` as an operator runs it (a private build
 * of the CLI, real kinesalite and s3rver, faults from outside the process): each row ends in
 * "nothing lost" (totals exact against `paypipe send`, checked with `paypipe results --verify`) or
 * in one named line and a non-zero exit — never a retry loop, a hang or a stack trace.
 *
 * | fault                                   | expected                                                      |
 * | --------------------------------------- | ------------------------------------------------------------- |
 * | analytics bucket deleted, then Ctrl-C    | parked (status, doctor says how to recreate); exits within    |
 * |                                         | --stop-timeout, saving what it holds; restart delivers it all |
 * | a second Ctrl-C                          | exits at once, after saving                                   |
 * | data dir removed                         | one line, exit 1, the dir is not recreated                    |
 * | disk full (ENOSPC injected)              | one line naming the file, exit 1; restart loses nothing       |
 * | API servers' process killed              | one line, exit 1; restart loses nothing                       |
 * | `send` running when `up` stops           | up exits 0; send stops with a summary of what was accepted;   |
 * |                                         | restart: exactly that is aggregated                           |
 * | a damaged checkpoint                     | one line naming the file, exit 1                              |
 */
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { s3Client } from '../../src/aws/clients.js';
import { isPidAlive, localTarget } from '../../src/local/endpoints.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { runCli } from '../helpers/build-cli.js';
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

const config = resolveConfig({});
const suite = upSuite();
const { dataDir, removeLater } = suite;

async function deleteAnalyticsBucket(d: string): Promise<void> {
  const ep = readEndpoints(d);
  if (ep === undefined) throw new Error(`no endpoints in ${d}`);
  const s3 = await s3Client(localTarget(ep));
  try {
    await s3.send(new DeleteBucketCommand({ Bucket: config.buckets.analytics }));
  } finally {
    s3.destroy();
  }
}

describe('the analytics bucket deleted while `up` runs', () => {
  it('parks, says how to recreate it, ends within the stop timeout on the first Ctrl-C; a restart delivers every record', async () => {
    const d = dataDir('bucket');
    const up = spawnCli(suite.cli, [...UP_ARGS(d), '--stop-timeout', '3s']);
    await endpointsOf(up, d);
    await deleteAnalyticsBucket(d);
    const summary = join(d, '..', `${d.split('/').at(-1)}-sent.json`);
    removeLater(summary);
    const sent = await send(suite.cli, d, 100, summary);
    expect(sent).toMatchObject({ sent: 100, failed: 0 });

    const parked = await until(
      'status.json to show the parked delivery',
      () => readStatus(d)?.firehose.analytics.parked,
    );
    expect(parked.reason).toBe(`bucket ${config.buckets.analytics} does not exist`);
    const doc = await runCli(suite.cli, ['doctor', '--local', '--data-dir', d, '--json'], {
      env: env(suite.cli),
    });
    const check = (
      JSON.parse(doc.stdout) as {
        checks: Array<{ id: string; status: string; evidence: string; fix?: string }>;
      }
    ).checks.find((c) => c.id === 'firehose.analytics');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check?.evidence).toContain(`bucket ${config.buckets.analytics} does not exist`);
    expect(check?.fix).toContain(`s3 mb s3://${config.buckets.analytics}`);

    const t0 = performance.now();
    up.child.kill('SIGINT');
    const exit = await up.exited;
    expect(exit.at - t0).toBeLessThan(3000 + 500);
    expect(exit.code).toBe(1);
    const line = lastLine(up.stderr());
    const pendingDir = join(d, 'pending', config.firehose.analytics.name);
    expect(line).toMatch(
      new RegExp(
        `^paypipe: stopped after the 3 s stop timeout: \\d+ records of ${config.firehose.analytics.name} \\(bucket ${config.buckets.analytics} does not exist\\) saved in ${pendingDir} \\(nothing is lost`,
      ),
    );
    expect(up.stderr()).not.toMatch(/\n\s+at /);
    expect(readdirSync(pendingDir).length).toBeGreaterThan(0);

    // The restart creates the missing bucket and delivers what was saved first.
    const again = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(again, d);
    await verified(suite.cli, d, summary);
    expect(readdirSync(pendingDir)).toEqual([]);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });

  it('a second Ctrl-C exits at once, after saving', async () => {
    const d = dataDir('twice');
    const up = spawnCli(suite.cli, [...UP_ARGS(d), '--stop-timeout', '60s']);
    await endpointsOf(up, d);
    await deleteAnalyticsBucket(d);
    await send(suite.cli, d, 50, join(d, 'sent.json'));
    await until('parked', () => readStatus(d)?.firehose.analytics.parked);
    up.child.kill('SIGINT');
    await until('the first stop to begin', () => up.stderr().includes('Stopping (SIGINT)'));
    const t0 = performance.now();
    up.child.kill('SIGINT');
    const exit = await up.exited;
    expect(exit.at - t0).toBeLessThan(2000);
    expect(exit.code).toBe(1);
    expect(lastLine(up.stderr())).toMatch(/^paypipe: stopped at once \(second signal\): \d+ records of /);
  });
});

describe('the data dir removed while `up` runs', () => {
  it('stops with one line and exit 1, and does not recreate the directory', async () => {
    const d = dataDir('rmdir');
    const up = spawnCli(suite.cli, UP_ARGS(d));
    const ep = await endpointsOf(up, d);
    await send(suite.cli, d, 50, `${d}-sent.json`);
    removeLater(`${d}-sent.json`);
    const t0 = performance.now();
    // maxRetries: \`up\` may write a file into the directory while it is being removed (ENOTEMPTY);
    // the user's \`rm -rf\` would be retried the same way.
    rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 10 });
    const exit = await up.exited;
    expect(exit.at - t0).toBeLessThan(3000);
    expect(exit.code).toBe(1);
    expect(lastLine(up.stderr())).toMatch(
      new RegExp(
        `^paypipe: the data directory ${d} was removed while the local pipeline was running \\(its streams, objects and checkpoints went with it; \`paypipe up[^\`]*\` starts afresh\\)$`,
      ),
    );
    expect(up.stderr()).not.toMatch(/retrying|\n\s+at /);
    expect(existsSync(d)).toBe(false);
    await until('the servers to go', () => !isPidAlive(ep.serverPid as number), 5000);
  });
});

describe('the disk full under the data dir', () => {
  it('stops with one line naming the file; after space is back a restart loses nothing', async () => {
    const d = dataDir('enospc');
    const trigger = `${d}-disk-full`;
    removeLater(trigger, `${d}-sent.json`);
    const up = spawnCli(suite.cli, UP_ARGS(d), {
      preload: [preload('enospc.mjs')],
      env: { PAYPIPE_TEST_ENOSPC_DIR: d, PAYPIPE_TEST_ENOSPC_TRIGGER: trigger },
    });
    await endpointsOf(up, d);
    await send(suite.cli, d, 300, `${d}-sent.json`);
    // The disk fills while those events are being aggregated and delivered.
    writeFileSync(trigger, '');
    const exit = await up.exited;
    expect(exit.code).toBe(1);
    expect(lastLine(up.stderr())).toMatch(
      new RegExp(`^paypipe: .*no space left on the device \\(ENOSPC\\) writing ${d}/\\S+.* \\(free space`),
    );
    expect(up.stderr()).not.toMatch(/\n\s+at /);

    rmSync(trigger);
    const again = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(again, d);
    await verified(suite.cli, d, `${d}-sent.json`);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});

describe("the API servers' process killed", () => {
  it('stops with one line and exit 1; a restart resumes and loses nothing', async () => {
    const d = dataDir('servers');
    removeLater(`${d}-sent.json`);
    const up = spawnCli(suite.cli, UP_ARGS(d));
    const ep = await endpointsOf(up, d);
    await send(suite.cli, d, 500, `${d}-sent.json`);
    await until('some progress', () => (readStatus(d)?.eventsIn ?? 0) > 0);
    process.kill(ep.serverPid as number, 'SIGKILL');
    const exit = await up.exited;
    expect(exit.code).toBe(1);
    expect(lastLine(up.stderr())).toMatch(
      new RegExp(
        `^paypipe: the local API servers \\(process ${ep.serverPid}\\) exited unexpectedly \\(signal SIGKILL\\).* \\(see ${d}/servers.log; state is checkpointed`,
      ),
    );
    await until('no process left using the data dir', () => processesUsing(d).length === 0, 10_000);

    const again = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(again, d);
    await verified(suite.cli, d, `${d}-sent.json`);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});

describe('`send` running when `up` stops', () => {
  it('up stops cleanly; send says so and reports what was accepted; a restart aggregates exactly that', async () => {
    const d = dataDir('send');
    const up = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(up, d);
    const sender = spawnCli(suite.cli, [
      'send',
      '--local',
      '--data-dir',
      d,
      '--count',
      '100000',
      '--rate',
      '2000',
      '--json',
    ]);
    await until('events flowing', () => (readStatus(d)?.eventsIn ?? 0) > 1000);
    up.child.kill('SIGINT');
    const upExit = await up.exited;
    expect(upExit.code, up.stderr()).toBe(0);
    const sendExit = await sender.exited;
    expect(sendExit.code).toBe(1);
    // It stops soon after the pipeline went, not after failing every remaining batch for minutes.
    expect(sendExit.at - upExit.at).toBeLessThan(10_000);
    expect(sender.stderr()).not.toMatch(/\n\s+at /);
    // Why it stopped, then the one error (JSON under --json): what was not accepted, and where it is.
    expect(sender.stderr()).toMatch(/is `paypipe up[^`]*` still running\?/);
    const error = JSON.parse(lastLine(sender.stderr())) as { error: { code: string; unsentFile: string } };
    expect(error.error.code).toBe('UNSENT');
    expect(existsSync(error.error.unsentFile)).toBe(true);
    const summary = JSON.parse(sender.stdout()) as { sent: number; failed: number };
    expect(summary.sent).toBeGreaterThan(1000);
    expect(summary.sent).toBeLessThan(100_000);
    writeFileSync(`${d}-sent.json`, sender.stdout());
    removeLater(`${d}-sent.json`);

    const again = spawnCli(suite.cli, UP_ARGS(d));
    await endpointsOf(again, d);
    await verified(suite.cli, d, `${d}-sent.json`);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  });
});

describe('a damaged checkpoint', () => {
  it.each([
    [
      'a Firehose checkpoint',
      `checkpoints/firehose-${config.firehose.raw.name}.json`,
      '{"shards": {"shardId-000000000000": 12',
    ],
    [
      'an aggregator checkpoint',
      `checkpoints/esm-${config.aggregator.functionName}/shardId-000000000000.json`,
      '',
    ],
    [
      'a Firehose checkpoint of the wrong shape',
      `checkpoints/firehose-${config.firehose.analytics.name}.json`,
      '{"shards": 7}',
    ],
  ])('%s: one line naming the file, exit 1', async (_what, rel, text) => {
    const d = dataDir('corrupt');
    const file = join(d, rel);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
    const r = await runCli(suite.cli, UP_ARGS(d), { env: env(suite.cli), timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at |unexpected error/);
    expect(lastLine(r.stderr)).toMatch(
      new RegExp(`^paypipe: ${file} is corrupt: .+ \\(paypipe writes this file atomically`),
    );
    expect(existsSync(join(d, 'endpoints.json'))).toBe(false);
    expect(existsSync(join(d, 'up.lock'))).toBe(false);
  });
});
