/**
 * Durations as users write them: `500ms`, `30s`, `10m`, `2h`, `1d`, or combinations like `1h30m`.
 * The one parser and the one formatter, so a default is shown the way a user would type it
 * (`24h`, never `86400000`).
 */
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or undefined when the text is not a duration (a bare number is not: which unit?). */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (s === '') return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos !== s.length || pos === 0) return undefined;
  return Math.round(total);
}

/** `86400000` → `1d`, `5400000` → `1h30m`, `1500` → `1s500ms`: parseDuration reads it back. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
