/**
 * The one way tests wait: on a condition, with a deadline that names what was awaited. A fixed
 * sleep standing for "enough time has passed" is flaky on a loaded machine and slow on an idle one.
 */
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `condition` every `pollMs` until it returns something other than undefined/false, and
 * resolves to that value; fails after `timeoutMs` saying what it waited for.
 */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await condition();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(pollMs);
  }
}
