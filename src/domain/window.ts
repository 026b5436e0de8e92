/**
 * Tumbling event-time windows: [start, start + width) with start a multiple of the width since
 * the epoch, so every component (aggregator, local pipeline, `results`) agrees on the boundaries
 * without coordinating.
 */

export interface Window {
  startMs: number;
  endMs: number;
  /** ISO 8601 with milliseconds, e.g. `2024-01-15T10:30:00.000Z`. */
  start: string;
  end: string;
}

export function windowStartMs(eventMs: number, widthMs: number): number {
  return eventMs - mod(eventMs, widthMs);
}

export function windowOf(eventMs: number, widthMs: number): Window {
  const startMs = windowStartMs(eventMs, widthMs);
  const endMs = startMs + widthMs;
  return { startMs, endMs, start: isoMs(startMs), end: isoMs(endMs) };
}

/** `2024-01-15T10:30:00.000Z`. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

// Floor modulo so pre-epoch instants still land in the window that contains them.
const mod = (a: number, n: number): number => ((a % n) + n) % n;
