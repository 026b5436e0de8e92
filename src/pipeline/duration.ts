/** Parses `500ms`, `30s`, `10m`, `2h`, `1d` (or combinations like `1h30m`) to milliseconds. */
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

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
