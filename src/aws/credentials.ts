/**
 * Fails fast, with one actionable line, when there are no AWS credentials. Every AWS-touching
 * command calls this first, before it synthesizes, builds clients or waits on the network.
 *
 * The SDK's default chain ends with the container and EC2 metadata endpoints. Off AWS those probes
 * can hang: the container probe only *warns* when its request times out and keeps the socket open,
 * which would also keep this process alive after the answer was printed. So the chain is resolved
 * in a worker thread: the main thread waits at most `timeoutMs`, then terminates the worker, which
 * closes whatever it still had open. The worker sends back facts only (found / expired / the
 * SDK's error text), never key material, and its console output is discarded.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { PaypipeError } from '../errors.js';
import type { ClientTarget } from './clients.js';

export type AwsTarget = Extract<ClientTarget, { kind: 'aws' }>;

export interface CredentialCheckOptions {
  /** Upper bound for the whole resolution (default 1200 ms). */
  timeoutMs?: number;
  /** Per-attempt timeout of the instance/container metadata probes (default 400 ms). */
  metadataTimeoutMs?: number;
  /** Clock for the expiry check (injected by tests). */
  nowMs?: number;
  /** Environment the SDK chain reads (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export const NO_CREDENTIALS_HINT =
  'set AWS_PROFILE or pass --profile <name>, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
  'or run `aws sso login`; no AWS account? try `paypipe demo`';

const profileHint = (profile: string): string =>
  `check [profile ${profile}] in ~/.aws/config (or ~/.aws/credentials), run \`aws sso login --profile ${profile}\` ` +
  'if it uses SSO, or pass another --profile';

/** What the worker reports: never the credentials themselves. */
type Probe =
  | { ok: true; empty: boolean; expiration?: number | undefined }
  | { ok: false; name: string; message: string }
  | { ok: 'timeout' };

// The same source the clients in clients.ts use: the named profile, else the default chain.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const p = require(workerData.modulePath);
const provider = workerData.profile !== undefined
  ? p.fromIni({ profile: workerData.profile })
  : p.fromNodeProviderChain({ timeout: workerData.metadataTimeoutMs, maxRetries: 0 });
provider().then(
  (c) => parentPort.postMessage({
    ok: true,
    empty: !c.accessKeyId || !c.secretAccessKey,
    expiration: c.expiration ? c.expiration.getTime() : undefined,
  }),
  (e) => parentPort.postMessage({
    ok: false,
    name: String((e && e.name) || 'Error'),
    message: String((e && e.message) || e),
  }),
);
`;

/** Resolves the credentials the SDK clients would use; throws PaypipeError 'NO_CREDENTIALS' if none. */
export async function assertCredentials(target: AwsTarget, opts: CredentialCheckOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 1200;
  const probe = await probeCredentials(target, timeoutMs, opts.metadataTimeoutMs ?? 400, opts.env);
  if (probe.ok === 'timeout') {
    throw noCredentials(target, `no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
  }
  if (probe.ok === false) throw noCredentials(target, reasonOf(probe.message), probe);
  if (probe.empty) throw noCredentials(target, 'the credentials found are empty');
  const now = opts.nowMs ?? Date.now();
  if (probe.expiration !== undefined && probe.expiration <= now) {
    throw new PaypipeError(
      'NO_CREDENTIALS',
      `the AWS credentials${target.profile === undefined ? '' : ` of profile "${target.profile}"`} expired at ${new Date(probe.expiration).toISOString()}`,
      { hint: target.profile === undefined ? NO_CREDENTIALS_HINT : profileHint(target.profile) },
    );
  }
}

function probeCredentials(
  target: AwsTarget,
  timeoutMs: number,
  metadataTimeoutMs: number,
  env: NodeJS.ProcessEnv | undefined,
): Promise<Probe> {
  const modulePath = createRequire(import.meta.url).resolve('@aws-sdk/credential-providers');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { modulePath, profile: target.profile, metadataTimeoutMs },
    ...(env === undefined ? {} : { env }),
    // Keep the SDK's own warnings (e.g. request-timeout notices) off the user's terminal.
    stdout: true,
    stderr: true,
  });
  worker.unref();
  return new Promise<Probe>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (p: Probe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(p);
      // Closes any probe still in flight; nothing of it may outlive the answer.
      void worker.terminate();
    };
    timer = setTimeout(() => settle({ ok: 'timeout' }), timeoutMs);
    timer.unref();
    worker.on('message', (m: Probe) => settle(m));
    worker.on('error', (e) => settle({ ok: false, name: e.name, message: e.message }));
    worker.on('exit', () =>
      settle({ ok: false, name: 'Error', message: 'the credential check stopped early' }),
    );
  });
}

function noCredentials(target: AwsTarget, reason: string, cause?: unknown): PaypipeError {
  if (target.profile !== undefined) {
    return new PaypipeError(
      'NO_CREDENTIALS',
      `AWS profile "${target.profile}" gave no credentials${reason === '' ? '' : `: ${reason}`}`,
      { hint: profileHint(target.profile), cause },
    );
  }
  // The default chain's "Could not load credentials from any providers" adds nothing here.
  const why = /could not load credentials from any providers/i.test(reason) ? '' : `; ${reason}`;
  return new PaypipeError('NO_CREDENTIALS', `no AWS credentials found (region ${target.region}${why})`, {
    hint: NO_CREDENTIALS_HINT,
    cause,
  });
}

/** The SDK's own explanation, first line only and bounded (it names files and profiles, not secrets). */
function reasonOf(message: string): string {
  const first = (message.split('\n')[0] ?? '').trim().replace(/\.$/, '');
  return first.length > 160 ? `${first.slice(0, 157)}...` : first;
}
