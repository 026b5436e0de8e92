/**
 * Fails fast, with one actionable line, when there are no AWS credentials. Every AWS-touching
 * command calls this first, before it synthesizes, builds clients or waits on the network.
 *
 * The SDK's default chain ends with the EC2/ECS metadata endpoints; off AWS those probes can hang
 * until their own timeouts (about 1 s per attempt, IMDSv2 then v1). Both the probes and the whole
 * resolution are bounded, so a laptop without credentials gets its answer in well under 2 s.
 *
 * Nothing here ever prints credential values: messages name sources and profiles only.
 */
import type { ClientTarget } from './clients.js';
import { PaypipeError } from '../errors.js';

export type AwsTarget = Extract<ClientTarget, { kind: 'aws' }>;

export interface CredentialCheckOptions {
  /** Upper bound for the whole resolution (default 1500 ms). */
  timeoutMs?: number;
  /** Per-attempt timeout of the instance/container metadata probes (default 500 ms). */
  metadataTimeoutMs?: number;
  /** Clock for expiry checks (injected for tests). */
  nowMs?: number;
}

export const NO_CREDENTIALS_HINT =
  'set AWS_PROFILE or pass --profile <name>, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
  'or run `aws sso login`; no AWS account? try `paypipe demo`';

const profileHint = (profile: string): string =>
  `check [profile ${profile}] in ~/.aws/config (or ~/.aws/credentials), run \`aws sso login --profile ${profile}\` ` +
  'if it uses SSO, or pass another --profile';

const TIMED_OUT = Symbol('timed out');

/** Resolves the credentials the SDK clients would use; throws PaypipeError 'NO_CREDENTIALS' if none. */
export async function assertCredentials(target: AwsTarget, opts: CredentialCheckOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const metadataTimeoutMs = opts.metadataTimeoutMs ?? 500;
  const { fromIni, fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  // The same source the clients in clients.ts use: the named profile, else the default chain.
  const provider =
    target.profile !== undefined
      ? fromIni({ profile: target.profile })
      : fromNodeProviderChain({ timeout: metadataTimeoutMs, maxRetries: 0 });

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
    // A probe still in flight must not keep the process alive after the answer is known.
    timer.unref();
  });
  // The container-credentials probe builds its own HTTP handler without a logger, so a slow
  // endpoint makes @smithy/node-http-handler console.warn a multi-line notice; the answer here is
  // one line, so that notice is held back while the probes run (nothing else is filtered).
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('@smithy/node-http-handler')) return;
    warn(...args);
  };
  let outcome: Awaited<ReturnType<typeof provider>> | typeof TIMED_OUT;
  try {
    outcome = await Promise.race([provider(), timeout]);
  } catch (err) {
    throw noCredentials(target, err);
  } finally {
    clearTimeout(timer);
    console.warn = warn;
  }
  if (outcome === TIMED_OUT) {
    throw noCredentials(target, undefined, `no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
  }
  if (outcome.accessKeyId === '' || outcome.secretAccessKey === '') throw noCredentials(target, undefined);
  const now = opts.nowMs ?? Date.now();
  if (outcome.expiration !== undefined && outcome.expiration.getTime() <= now) {
    throw new PaypipeError(
      'NO_CREDENTIALS',
      `the AWS credentials${where(target)} expired at ${outcome.expiration.toISOString()}`,
      { hint: target.profile !== undefined ? profileHint(target.profile) : NO_CREDENTIALS_HINT },
    );
  }
}

const where = (target: AwsTarget): string =>
  target.profile !== undefined ? ` of profile "${target.profile}"` : '';

function noCredentials(target: AwsTarget, cause: unknown, why?: string): PaypipeError {
  if (target.profile !== undefined) {
    const reason = why ?? reasonOf(cause);
    return new PaypipeError(
      'NO_CREDENTIALS',
      `AWS profile "${target.profile}" gave no credentials${reason === '' ? '' : `: ${reason}`}`,
      { hint: profileHint(target.profile), cause },
    );
  }
  return new PaypipeError(
    'NO_CREDENTIALS',
    `no AWS credentials found (region ${target.region}${why === undefined ? '' : `; ${why}`})`,
    { hint: NO_CREDENTIALS_HINT, cause },
  );
}

/** The SDK's own explanation, first line only and bounded (it names files/profiles, never secrets). */
function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err ?? '');
  const first = (msg.split('\n')[0] ?? '').trim().replace(/\.$/, '');
  return first.length > 160 ? `${first.slice(0, 157)}...` : first;
}
