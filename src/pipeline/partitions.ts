/**
 * The Hive-style S3 partitions Firehose writes (`year=YYYY/month=MM/day=DD/hour=HH/`, UTC, by
 * arrival time), so readers can list only the hours a time range can touch.
 */

const HOUR_MS = 3_600_000;

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `partitionPrefix('aggregations/', ms)` → `aggregations/year=2024/month=01/day=15/hour=10/`. */
export function partitionPrefix(base: string, ms: number): string {
  const d = new Date(ms);
  return `${base}year=${d.getUTCFullYear()}/month=${pad2(d.getUTCMonth() + 1)}/day=${pad2(d.getUTCDate())}/hour=${pad2(d.getUTCHours())}/`;
}

/**
 * Every hour prefix whose hour intersects the closed range [fromMs, toMs], oldest first. Empty
 * when fromMs > toMs.
 */
export function hourPrefixes(base: string, fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  if (!(fromMs <= toMs)) return out;
  for (let h = Math.floor(fromMs / HOUR_MS) * HOUR_MS; h <= toMs; h += HOUR_MS) {
    out.push(partitionPrefix(base, h));
  }
  return out;
}

export interface Partition {
  /** Everything before `year=` (e.g. `aggregations/`). */
  base: string;
  year: number;
  month: number;
  day: number;
  hour: number;
  /** Start of the hour, epoch ms (UTC). */
  startMs: number;
}

/** Inverse of partitionPrefix for a key or prefix; undefined when it has no valid partition. */
export function parsePartition(key: string): Partition | undefined {
  const at = key.startsWith('year=') ? 0 : key.indexOf('/year=') + 1;
  if (at === 0 && !key.startsWith('year=')) return undefined;
  const parts = key.slice(at).split('/');
  const field = (i: number, name: string, len: number): number | undefined => {
    const p = parts[i];
    if (p === undefined || p.length !== name.length + 1 + len || !p.startsWith(`${name}=`)) return undefined;
    const v = p.slice(name.length + 1);
    for (let j = 0; j < v.length; j++) {
      const c = v.charCodeAt(j);
      if (c < 48 || c > 57) return undefined;
    }
    return Number(v);
  };
  const year = field(0, 'year', 4);
  const month = field(1, 'month', 2);
  const day = field(2, 'day', 2);
  const hour = field(3, 'hour', 2);
  if (year === undefined || month === undefined || day === undefined || hour === undefined) return undefined;
  const startMs = Date.UTC(year, month - 1, day, hour);
  const d = new Date(startMs);
  // Reject impossible dates (month=13, day=31 in April, hour=24) instead of letting Date roll over.
  if (
    d.getUTCFullYear() !== year ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    d.getUTCHours() !== hour
  ) {
    return undefined;
  }
  return { base: key.slice(0, at), year, month, day, hour, startMs };
}
