/**
 * One figure of the benchmark report: paypipe's measurement, its ceiling (the best reasonable
 * implementation, or the old recipe) measured in the same run, interleaved, and the target as a
 * ratio to that ceiling. bench/results.json holds these rows; the README table is generated from it.
 */
export interface BenchRow {
  /** Stable name of the figure (README table order, comparisons across runs). */
  id: string;
  figure: string;
  unit: string;
  /** paypipe's median. */
  paypipe: number;
  /** Spread of paypipe's samples: [lower quartile, upper quartile] (or min–max for < 4 samples). */
  paypipeSpread?: [number, number] | undefined;
  /** What paypipe is measured against (e.g. "bare SDK script"), or null for an absolute figure. */
  ceilingName: string | null;
  /** The ceiling's median in the same run, or null when it is absent (see `skipped`) or absolute. */
  ceiling: number | null;
  ceilingSpread?: [number, number] | undefined;
  /**
   * How paypipe compares, oriented as `target` states it (e.g. throughput ÷ the ceiling's, or
   * CPU ÷ the ceiling's); the median of the per-round ratios when rounds were paired.
   */
  ratio: number | null;
  /** The target, e.g. "≥ 0.9× ceiling" or "≤ 1.15×"; "—" for reference figures. */
  target: string;
  /** null: no target (a reference figure), or the ceiling could not be measured. */
  met: boolean | null;
  /** Samples per side (interleaved rounds). */
  rounds?: number | undefined;
  /** Why the ceiling was not measured (printed, never a silent null). */
  skipped?: string | undefined;
  /** For a missed target: what bounds it (profile evidence) and what it would take. */
  bound?: string | undefined;
  note?: string | undefined;
}
