/** One row of the benchmark report: paypipe's figure, the baseline measured in the same run, and the target. */
export interface BenchRow {
  figure: string;
  /** paypipe's measurement (median). */
  paypipe: number;
  /** The baseline's measurement in the same run (median), or null when the baseline is unavailable. */
  baseline: number | null;
  unit: string;
  /** paypipe/baseline oriented so that higher is better for paypipe (see `higherIsBetter`). */
  ratio: number | null;
  target: string;
  met: boolean | null;
  note?: string;
}
