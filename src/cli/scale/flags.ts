/** `paypipe scale` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export interface ScaleFlags extends TargetFlags {
  shards?: number;
  onDemand?: boolean;
  /** Wait for the stream to be ACTIVE at the new capacity (default true; --no-wait). */
  wait?: boolean;
}
