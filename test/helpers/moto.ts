/**
 * moto_server (the Python AWS emulator) for the AWS-path test: found on PATH (never a fixed path),
 * started on a free port, stopped after. `findMotoServer()` says why the test must skip when it is
 * missing. The environment it returns is what an operator sets to point the AWS SDK, the CDK
 * toolkit and paypipe at another endpoint: AWS_ENDPOINT_URL, plus AWS_ENDPOINT_URL_S3 because
 * moto serves S3 path-style only on its own host, and dummy credentials.
 *
 * Requests reach moto one at a time, through a small proxy. moto's CloudFormation builds a
 * stack's resources lazily and makes the stack visible before CreateStack has finished: a
 * DescribeStacks (or a custom-resource callback) answered on another thread meanwhile resolves the
 * outputs and creates a second copy of whichever resource it reaches first — a second schedule
 * rule, event-source mapping or role, with another random name, that no delete ever removes. Real
 * CloudFormation has no such race; serialising the requests removes it here (moto is quick, so
 * the test is not slower for it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { Agent, createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export function findMotoServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, 'moto_server');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null ? resolvePort(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface Moto {
  /** `http://localhost:<port>`: moto parses S3 TemplateURLs only with a localhost host. */
  endpoint: string;
  region: string;
  /** Environment for the CLI: endpoints, region and moto's dummy credentials. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy to `target` that forwards one request at a time: the next is sent only when the
 * previous response has ended (or failed). Returns its port and a close function.
 */
export async function serialisingProxy(target: number): Promise<{ port: number; close(): Promise<void> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let last: Promise<void> = Promise.resolve();
  const server = createHttpServer((req, res) => {
    // Read the whole body first, so a slow client does not hold moto while the queue waits.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      last = last.then(
        () =>
          new Promise<void>((done) => {
            const up = httpRequest(
              {
                host: '127.0.0.1',
                port: target,
                method: req.method,
                path: req.url,
                headers: req.headers,
                agent,
              },
              (upRes) => {
                res.writeHead(upRes.statusCode ?? 502, upRes.headers);
                upRes.pipe(res);
                upRes.on('end', () => done());
                upRes.on('error', () => done());
              },
            );
            up.on('error', (err) => {
              if (!res.headersSent) res.writeHead(502);
              res.end(String(err));
              done();
            });
            up.end(body);
          }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  if (typeof addr !== 'object' || addr === null) throw new Error('proxy has no port');
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startMoto(bin: string, region = 'ap-southeast-2'): Promise<Moto> {
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOTO_PORT: String(port) },
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const direct = `http://127.0.0.1:${port}`;
  // Wait for the condition (moto answering), not for a fixed time.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`${direct}/moto-api/data.json`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${direct} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const proxy = await serialisingProxy(port);
  const endpoint = `http://localhost:${proxy.port}`;
  return {
    endpoint,
    region,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: region,
    },
    stop: async () => {
      await proxy.close();
      await new Promise<void>((resolveStop) => {
        if (child.exitCode !== null) return resolveStop();
        child.once('exit', () => resolveStop());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      });
    },
  };
}
