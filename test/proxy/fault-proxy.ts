/**
 * A small fault-injecting HTTP proxy for tests: sits in front of kinesalite or s3rver (neither ever
 * throttles or fails) and makes them misbehave the way AWS does, so retry paths run against a real
 * server instead of a fake.
 *
 * Faults are deterministic (seeded PRNG + counters), so a failing test fails the same way twice:
 * - `failEntries`: fail a share of a PutRecords call's entries with ProvisionedThroughputExceeded.
 *   The failed entries are REMOVED from the request before it is forwarded, and the response is
 *   spliced back together in the original order, exactly as Kinesis reports a partial failure: an
 *   entry reported failed is never in the stream, so a correct retry never duplicates it.
 * - `status`: answer without forwarding (500 InternalFailure, 503 SlowDown/ServiceUnavailable, 400
 *   throttling) with the body the real service would send.
 * - `reset`: destroy the client socket without answering.
 * - `truncateAfterBytes`: forward, then cut the response body after N bytes and reset (a download
 *   dying mid-stream).
 * - `delayMs`: hold the request before forwarding.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FaultMatch {
  /** Kinesis operation (the part of X-Amz-Target after the dot), e.g. `PutRecords`. */
  operation?: string;
  method?: string;
  /** Tested against the request path (with query string). */
  path?: RegExp;
}

export type FaultAction =
  | { failEntries: number; errorCode?: string }
  | { status: 500 | 503 | 400; flavour: 'kinesis' | 's3' }
  | { reset: true }
  | { truncateAfterBytes: number }
  | { delayMs: number };

export interface FaultRule {
  match: FaultMatch;
  action: FaultAction;
  /** Probability the rule fires on a matching request (default 1). */
  share?: number;
  /** Matching requests let through untouched before the rule starts firing (default 0). */
  after?: number;
  /** Fire at most this many times (default unlimited). */
  times?: number;
}

export interface ProxyStats {
  requests: number;
  forwarded: number;
  /** Times each rule (by index) fired. */
  fired: number[];
  /** PutRecords entries the proxy failed on purpose (never forwarded). */
  failedEntries: number;
  /** PutRecords entries forwarded to the real server. */
  forwardedEntries: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give this to the SDK as the endpoint. */
  url: string;
  stats: ProxyStats;
  setRules(rules: FaultRule[]): void;
  close(): Promise<void>;
}

/** mulberry32: tiny, seedable, good enough to pick which entries fail. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

const operationOf = (req: IncomingMessage): string | undefined => {
  const t = req.headers['x-amz-target'];
  const s = Array.isArray(t) ? t[0] : t;
  return s === undefined ? undefined : s.slice(s.indexOf('.') + 1);
};

interface PutRecordsEntryResult {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

export async function startFaultProxy(o: {
  target: string;
  rules?: FaultRule[];
  seed?: number;
}): Promise<FaultProxy> {
  const upstream = new URL(o.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const random = seededRandom(o.seed ?? 1);
  let rules: FaultRule[] = o.rules ?? [];
  let seen: number[] = rules.map(() => 0);
  const stats: ProxyStats = {
    requests: 0,
    forwarded: 0,
    fired: rules.map(() => 0),
    failedEntries: 0,
    forwardedEntries: 0,
  };
  const sockets = new Set<Socket>();

  const matches = (m: FaultMatch, req: IncomingMessage, op: string | undefined): boolean =>
    (m.operation === undefined || m.operation === op) &&
    (m.method === undefined || m.method === req.method) &&
    (m.path === undefined || m.path.test(req.url ?? ''));

  /** The first rule that fires for this request, if any (counters advance for every matching rule). */
  const pick = (req: IncomingMessage, op: string | undefined): FaultAction | undefined => {
    for (const [i, r] of rules.entries()) {
      if (!matches(r.match, req, op)) continue;
      seen[i] = (seen[i] ?? 0) + 1;
      if ((seen[i] ?? 0) <= (r.after ?? 0)) continue;
      if (r.times !== undefined && (stats.fired[i] ?? 0) >= r.times) continue;
      if (r.share !== undefined && random() >= r.share) continue;
      stats.fired[i] = (stats.fired[i] ?? 0) + 1;
      return r.action;
    }
    return undefined;
  };

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    onResponse: (status: number, headers: IncomingMessage['headers'], res: IncomingMessage) => void,
    onError: (e: Error) => void,
  ): void => {
    stats.forwarded++;
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    const up = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent,
      },
      (res) => onResponse(res.statusCode ?? 502, res.headers, res),
    );
    up.on('error', onError);
    up.end(body);
  };

  const errorBody = (status: number, flavour: 'kinesis' | 's3'): { type: string; body: string } => {
    if (flavour === 's3') {
      const [code, msg] =
        status === 503
          ? ['SlowDown', 'Please reduce your request rate.']
          : status === 500
            ? ['InternalError', 'We encountered an internal error. Please try again.']
            : ['RequestTimeout', 'Your socket connection to the server was not read from or written to.'];
      return {
        type: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${msg}</Message><RequestId>FAULTPROXY</RequestId></Error>`,
      };
    }
    const [type, msg] =
      status === 503
        ? ['ServiceUnavailable', 'Service Unavailable']
        : status === 500
          ? ['InternalFailure', 'Internal service failure.']
          : [
              'ProvisionedThroughputExceededException',
              'Rate exceeded for stream under account 000000000000.',
            ];
    return {
      type: 'application/x-amz-json-1.1',
      body: JSON.stringify({ __type: type, message: msg }),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    const op = operationOf(req);
    const body = await readBody(req);
    const action = pick(req, op);
    const fail = (e: Error): void => {
      res.destroy(e);
    };
    const pipeThrough = (status: number, headers: IncomingMessage['headers'], up: IncomingMessage): void => {
      res.writeHead(status, headers);
      up.pipe(res);
    };

    if (action === undefined) return forward(req, body, pipeThrough, fail);
    if ('delayMs' in action) {
      await new Promise((r) => setTimeout(r, action.delayMs)); // the delay is the fault being injected
      return forward(req, body, pipeThrough, fail);
    }
    if ('reset' in action) {
      req.socket.destroy();
      return;
    }
    if ('status' in action) {
      const { type, body: text } = errorBody(action.status, action.flavour);
      res.writeHead(action.status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if ('truncateAfterBytes' in action) {
      return forward(
        req,
        body,
        (status, headers, up) => {
          res.writeHead(status, headers);
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            const room = action.truncateAfterBytes - sent;
            if (room <= 0) return;
            const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
            sent += part.length;
            res.write(part);
            if (sent >= action.truncateAfterBytes) {
              // Flush what we have, then kill the connection mid-body.
              res.socket?.end(() => res.socket?.destroy());
              up.destroy();
            }
          });
          up.on('end', () => res.end());
        },
        fail,
      );
    }
    // failEntries: only meaningful for PutRecords; anything else is forwarded untouched.
    if (op !== 'PutRecords') return forward(req, body, pipeThrough, fail);
    const parsed = JSON.parse(body.toString('utf8')) as { StreamName?: string; Records: unknown[] };
    const failIdx = new Set<number>();
    parsed.Records.forEach((_, i) => {
      if (random() < action.failEntries) failIdx.add(i);
    });
    const code = action.errorCode ?? 'ProvisionedThroughputExceededException';
    const failedEntry = (): PutRecordsEntryResult => ({
      ErrorCode: code,
      ErrorMessage:
        code === 'InternalFailure'
          ? 'Internal service failure.'
          : `Rate exceeded for shard shardId-000000000000 in stream ${parsed.StreamName ?? 'unknown'} under account 000000000000.`,
    });
    stats.failedEntries += failIdx.size;
    const reply = (status: number, doc: unknown): void => {
      const text = JSON.stringify(doc);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (failIdx.size === parsed.Records.length) {
      reply(200, { FailedRecordCount: failIdx.size, Records: parsed.Records.map(failedEntry) });
      return;
    }
    const kept = parsed.Records.filter((_, i) => !failIdx.has(i));
    stats.forwardedEntries += kept.length;
    forward(
      req,
      Buffer.from(JSON.stringify({ ...parsed, Records: kept })),
      (status, headers, up) => {
        void readBody(up).then((b) => {
          if (status !== 200) {
            res.writeHead(status, headers);
            res.end(b);
            return;
          }
          const upDoc = JSON.parse(b.toString('utf8')) as {
            FailedRecordCount?: number;
            Records: PutRecordsEntryResult[];
          };
          let k = 0;
          const merged = parsed.Records.map((_, i) =>
            failIdx.has(i) ? failedEntry() : (upDoc.Records[k++] ?? failedEntry()),
          );
          reply(200, {
            ...upDoc,
            FailedRecordCount: (upDoc.FailedRecordCount ?? 0) + failIdx.size,
            Records: merged,
          });
        }, fail);
      },
      fail,
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => res.destroy(e as Error));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setRules(next) {
      rules = next;
      seen = next.map(() => 0);
      stats.fired = next.map(() => 0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
