/** `paypipe status` flags as commander hands them to the action (wired in ./command.ts). */
import type { WhenFlag } from '../../pipeline/time-range.js';
import type { TargetFlags } from '../options.js';

export interface StatusFlags extends TargetFlags {
  /** Where the history drawn starts (the shared time vocabulary; default 30 minutes ago). */
  since?: WhenFlag;
  /** ms between refreshes (default 5 s locally, 60 s on AWS, where metrics are per minute). */
  interval?: number;
  /** Print one frame and exit (also when stdout is not a terminal, and with --json). */
  once?: boolean;
}
