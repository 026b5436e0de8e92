/** `paypipe dead-letters` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';
import type { WhenFlag } from '../../pipeline/time-range.js';

export interface DeadLetterFlags extends TargetFlags {
  since: WhenFlag;
  count?: number;
  /** Old spellings, hidden: --last <duration> is --since, --limit is --count. */
  last?: WhenFlag;
  limit?: number;
}
