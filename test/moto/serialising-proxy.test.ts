/**
 * The proxy in front of moto_server forwards one request at a time (see test/helpers/moto.ts for
 * the race it removes). Adversary: a proxy that pipes requests through concurrently, which would
 * bring the duplicate-resource race back without any test noticing until it flaked again.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialisingProxy } from '../helpers/moto.js';

describe('serialisingProxy', () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const seen: string[] = [];
  const upstream = createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      // Answer on a later turn so that overlapping requests, if forwarded, would overlap here.
      setImmediate(() => {
        inFlight -= 1;
        res.writeHead(201, { 'x-upstream': 'yes' });
        res.end(`echo ${req.url}`);
      });
    });
  });
  let proxy: Awaited<ReturnType<typeof serialisingProxy>>;

  beforeAll(async () => {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const addr = upstream.address();
    if (typeof addr !== 'object' || addr === null) throw new Error('no port');
    proxy = await serialisingProxy(addr.port);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  it('forwards method, path, body, status and headers, one request at a time', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`http://127.0.0.1:${proxy.port}/r${i}?q=${i}`, { method: 'POST', body: `body-${i}` }).then(
          async (r) => ({ status: r.status, header: r.headers.get('x-upstream'), text: await r.text() }),
        ),
      ),
    );
    expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 12 }, (_, i) => `echo /r${i}?q=${i}`));
    expect(answers.every((a) => a.status === 201 && a.header === 'yes')).toBe(true);
    expect(seen.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `POST /r${i}?q=${i} body-${i}`).sort());
    expect(maxInFlight).toBe(1);
  });
});
