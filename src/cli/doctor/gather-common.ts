/**
 * What both gatherers share: turning a gathering step into a Fact (a thrown error becomes a
 * `denied` or `failed` fact, never a crash), a report that stops, and the flags fixes keep.
 * (The facts read the same way from AWS and from the local servers are in common-facts.ts.)
 */
import { errorLine, errorName } from '../../aws/errors.js';
import type { KinesisClient } from '../../aws/kinesis.js';
import type { S3Client } from '../../aws/s3.js';
import { isPaypipeError } from '../../errors.js';
import { resolveConfig } from '../../pipeline/config.js';
import { DEFAULT_DATA_DIR, type TargetFlags } from '../options.js';
import type { DoctorFacts, Fact, Invocation } from './facts.js';

export interface GatherOptions {
  probe: boolean;
  /** Probe timeout. */
  timeoutMs: number;
  /** Lag above this fails (default: 5 windows, at least 5 minutes). */
  maxLagMs?: number | undefined;
  /** Newest object older than this is stale (default: from schedule, buffer and batching window). */
  staleAfterMs?: number | undefined;
  /** Probe poll interval. */
  pollMs?: number | undefined;
  progress?: ((message: string) => void) | undefined;
  debug?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** The SDK clients, named through src/aws (the only layer that knows the SDK). */
export type Kinesis = KinesisClient;
export type S3 = S3Client;

export const knownFact = <T>(value: T): Fact<T> => ({ known: true, value });
export const notHere = <T>(why: string): Fact<T> => ({ known: false, missing: { kind: 'not-here', why } });
export const skipped = <T>(why: string): Fact<T> => ({ known: false, missing: { kind: 'skipped', why } });
export const failedFact = <T>(error: string): Fact<T> => ({
  known: false,
  missing: { kind: 'failed', error },
});

/** One line for an error: a paypipe error's message, else `Name: first line of the message`. */
export const errLine = (e: unknown): string =>
  isPaypipeError(e) ? (e.message.split('\n')[0] ?? '') : errorLine(e);

const DENIED = /AccessDenied|UnauthorizedOperation|AuthorizationError|NotAuthorized|Forbidden/;

/** A permission error, also when wrapped (src/aws turns SDK errors into PaypipeErrors with a cause). */
export function isDenied(e: unknown): boolean {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; depth++) {
    if (DENIED.test(errorName(x))) return true;
    x = (x as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs one gathering step. Its failure is the fact: a permission problem is `denied` (with the
 * permission to grant), anything else `failed`; the full error goes to --debug.
 */
export async function gather<T>(
  o: Pick<GatherOptions, 'debug'>,
  what: string,
  run: () => Promise<T>,
  permission?: string,
): Promise<Fact<T>> {
  try {
    return knownFact(await run());
  } catch (e) {
    o.debug?.(`${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (isDenied(e)) {
      return {
        known: false,
        missing: { kind: 'denied', error: errLine(e), permission: permission ?? 'read access' },
      };
    }
    return failedFact(errLine(e));
  }
}

/** The flags that picked this target and differ from their defaults: what fixes keep. */
export function invocationOf(flags: TargetFlags): Invocation {
  if (flags.local === true) {
    return {
      target: 'local',
      ...(flags.dataDir === undefined || flags.dataDir === DEFAULT_DATA_DIR
        ? {}
        : { dataDir: flags.dataDir }),
    };
  }
  const d = resolveConfig({});
  const given = (v: string | undefined, dflt?: string): string | undefined =>
    v === undefined || v === dflt ? undefined : v;
  const inv: Extract<Invocation, { target: 'aws' }> = { target: 'aws' };
  const env = given(flags.env, d.environment);
  const project = given(flags.project, d.project);
  const region = given(flags.region);
  const profile = given(flags.profile);
  const stack = given(flags.stack);
  if (env !== undefined) inv.env = env;
  if (project !== undefined) inv.project = project;
  if (region !== undefined) inv.region = region;
  if (profile !== undefined) inv.profile = profile;
  if (stack !== undefined) inv.stack = stack;
  return inv;
}

/** Facts for a report that stops (or has not started): every fact skipped for `why`. */
export function stoppedFacts(
  base: Pick<DoctorFacts, 'target' | 'subject' | 'config' | 'invocation' | 'limits'>,
  why: string,
): DoctorFacts {
  const s = skipped<never>(why);
  return {
    ...base,
    localPipeline: s,
    localServers: s,
    identity: s,
    region: s,
    stack: s,
    stackOutputs: s,
    streams: { input: s, output: s },
    delivery: { raw: s, analytics: s },
    tables: s,
    consumer: s,
    failedBatches: s,
    deadLetters: s,
    lag: { stream: s, aggregator: s },
    errors: { aggregator: s, producer: s },
    newest: { raw: s, aggregations: s },
    pipelineAgeMs: s,
    schedule: s,
    metrics: s,
    probe: s,
  };
}

/** What the probe takes from the command's options; its clock is always the real one. */
export const probeOptions = (o: GatherOptions, defaultPollMs: number) => ({
  timeoutMs: o.timeoutMs,
  pollMs: o.pollMs ?? defaultPollMs,
  signal: o.signal,
  progress: o.progress,
  debug: o.debug,
});

export const limitsOf = (o: GatherOptions): DoctorFacts['limits'] => ({
  maxLagMs: o.maxLagMs,
  staleAfterMs: o.staleAfterMs,
});
