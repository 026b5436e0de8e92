/** `paypipe redrive` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export interface RedriveFlags extends TargetFlags {
  dryRun?: boolean;
}
