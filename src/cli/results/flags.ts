/** `paypipe results` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';
import type { WhenFlag } from '../../pipeline/time-range.js';

export interface ResultsFlags extends TargetFlags {
  date?: string;
  hour?: number;
  since?: WhenFlag;
  until?: WhenFlag;
  /** Old spellings, hidden: --last <duration> and --from are --since, --to is --until. */
  last?: WhenFlag;
  from?: WhenFlag;
  to?: WhenFlag;
  format?: 'table' | 'json' | 'ndjson' | 'csv';
  files?: boolean;
  raw?: boolean;
  strict?: boolean;
  allowDamaged?: boolean;
  verify?: string;
  bucket?: string;
  concurrency?: number;
  wait?: number;
}
