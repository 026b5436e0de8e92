/**
 * The aggregator's time budget, derived from ONE setting: the function timeout
 * (`aggregator.timeoutSeconds` in config.ts, which the stack gives Lambda and the local runtime
 * enforces). Lambda hands the handler what is left of it (context.getRemainingTimeInMillis()), and
 * from that alone the handler derives when its writes must be done and how long any one SDK call may
 * take, so a slow or hung output stream ends in a batch failure it reports itself — the batch is
 * retried whole — well before Lambda would kill the invocation (a function error, which bisects the
 * batch and leaves whatever was written behind).
 */

export interface TimeBudget {
  /** Writes must be confirmed this many ms after the invocation started, or the batch is failed. */
  writeDeadlineMs: number;
  /** Any one SDK call (its own retries included) is abandoned after this long. */
  attemptTimeoutMs: number;
}

/** Never less than this is kept back for returning the failure and the platform's own overhead. */
const MIN_RESERVE_MS = 1000;
const MAX_RESERVE_MS = 15_000;
const MAX_ATTEMPT_MS = 10_000;
const MIN_ATTEMPT_MS = 250;

/**
 * A quarter of the remaining time (1–15 s) is kept in reserve; the rest is the write deadline, and
 * one SDK call may take a third of it (so at least three attempts fit), at most 10 s.
 */
export function timeBudget(remainingMs: number): TimeBudget {
  const r = Math.max(0, Math.floor(remainingMs));
  const reserve =
    r < 2 * MIN_RESERVE_MS
      ? Math.floor(r / 2)
      : Math.min(MAX_RESERVE_MS, Math.max(MIN_RESERVE_MS, Math.floor(r / 4)));
  const writeDeadlineMs = r - reserve;
  const attemptTimeoutMs = Math.min(
    writeDeadlineMs,
    Math.max(MIN_ATTEMPT_MS, Math.min(MAX_ATTEMPT_MS, Math.floor(writeDeadlineMs / 3))),
  );
  return { writeDeadlineMs, attemptTimeoutMs };
}
