/**
 * Ctrl-C (and SIGTERM) as an AbortSignal, for commands that stop cleanly instead of dying: `send`
 * stops pulling and reports, `peek`/`logs --follow` end with exit 0. Listening only until
 * disposed, so a later Ctrl-C gets Node's default.
 */
export function interruptSignal(): { signal: AbortSignal; abort(): void; dispose(): void } {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: ac.signal,
    abort: stop,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
