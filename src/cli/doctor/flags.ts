/** `paypipe doctor` flags as commander hands them to the action (wired in ./command.ts; durations in ms). */
import type { TargetFlags } from '../options.js';

export interface DoctorFlags extends TargetFlags {
  probe?: boolean;
  timeout?: number;
  maxLag?: number;
  staleAfter?: number;
}
