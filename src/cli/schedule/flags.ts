/** `paypipe schedule` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export interface ScheduleFlags extends TargetFlags {
  rate?: string;
  cron?: string;
  enable?: boolean;
  disable?: boolean;
  count?: number;
}
