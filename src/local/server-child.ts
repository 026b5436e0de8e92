/**
 * The local API servers' process: kinesalite (Kinesis, leveldb in the data dir) and s3rver (S3,
 * files in the data dir), both bound to 127.0.0.1 on free ports. It runs as a child of paypipe
 * because s3rver's listing continuation tokens use DES, which Node 17+ only has with
 * `--openssl-legacy-provider` — a flag we do not want on the CLI process itself.
 *
 * Self-contained on purpose (node: built-ins and the two servers only, no relative imports): the
 * parent runs the compiled dist/local/server-child.js, or this file transpiled to a temp file when
 * it runs from TypeScript sources (tests).
 *
 * It dies with its parent, even when the parent is SIGKILLed: the IPC channel and stdin both close
 * then. It ignores SIGINT, SIGTERM and SIGHUP: those reach a whole process group or cgroup at once
 * (Ctrl-C, a closed terminal, `kill -- -PGID`, systemd's default KillMode, `docker stop` of a
 * shell-less container), and the parent must be able to deliver through the servers first and then
 * ask them to stop. To stop the servers alone, SIGKILL them (the parent then reports them lost).
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface ChildOptions {
  kinesisPath: string;
  s3Directory: string;
}

interface ClosableServer {
  close(cb?: (err?: Error) => void): unknown;
}

const require = createRequire(process.env.PAYPIPE_RESOLVE_FROM ?? import.meta.url);
const send = (m: unknown): void => {
  if (process.send !== undefined && process.connected) process.send(m);
};

let kinesis:
  | (ClosableServer & { listen(port: number, host: string, cb: () => void): void; address(): unknown })
  | undefined;
let s3: { close(): Promise<void> } | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // A stuck close must not keep an orphan alive: leave after 3 s whatever happens.
    setTimeout(() => process.exit(code), 3000).unref();
    await Promise.allSettled([
      s3?.close(),
      new Promise<void>((res) => (kinesis === undefined ? res() : kinesis.close(() => res()))),
    ]);
  }
  process.exit(code);
}

async function start(o: ChildOptions): Promise<void> {
  const kinesalite = require('kinesalite') as (opts: Record<string, unknown>) => NonNullable<typeof kinesis>;
  const S3rver = require('s3rver') as new (
    opts: Record<string, unknown>,
  ) => { run(): Promise<AddressInfo>; close(): Promise<void> };

  kinesis = kinesalite({
    path: o.kinesisPath,
    // Streams are ACTIVE at once; AWS takes seconds, kinesalite would wait 500 ms by default.
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
  });
  const k = kinesis;
  const kinesisPort = await new Promise<number>((res, rej) => {
    (k as unknown as { once(ev: string, f: (e: Error) => void): void }).once('error', rej);
    k.listen(0, '127.0.0.1', () => res((k.address() as AddressInfo).port));
  });
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: o.s3Directory, silent: true });
  s3 = server;
  const s3Address = await server.run();
  send({ type: 'ready', kinesisPort, s3Port: s3Address.port, pid: process.pid });
}

// Group-wide signals: the parent decides when the servers go (the 'stop' message, or its exit).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});
process.on('disconnect', () => void stop(0));
process.stdin.on('end', () => void stop(0));
process.stdin.on('error', () => void stop(0));
process.stdin.resume();
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stop') void stop(0);
});
const fail = (e: unknown): void => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`server child: ${e instanceof Error ? (e.stack ?? message) : message}\n`);
  send({ type: 'error', message });
  void stop(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const options = JSON.parse(process.env.PAYPIPE_SERVER_OPTIONS ?? '{}') as ChildOptions;
start(options).catch(fail);
