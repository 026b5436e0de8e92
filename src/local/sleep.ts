/** Timers for the pollers. */

/** A sleep that an abort (stop) cuts short. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((res) => {
    if (signal?.aborted) return res();
    const onAbort = (): void => {
      clearTimeout(t);
      res();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
