/** `paypipe status` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export interface StatusFlags extends TargetFlags {
  /** ms of history drawn (default 30 minutes). */
  since?: number;
  /** ms between refreshes (default 5 s locally, 60 s on AWS, where metrics are per minute). */
  interval?: number;
  /** Print one frame and exit (also when stdout is not a terminal, and with --json). */
  once?: boolean;
}
