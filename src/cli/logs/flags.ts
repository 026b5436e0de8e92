/** `paypipe logs` flags as commander hands them to the action (wired in ./command.ts). */
import type { LogLevel } from '../../pipeline/log-format.js';
import type { TargetFlags } from '../options.js';
import type { WhenFlag } from '../../pipeline/time-range.js';

export interface LogsFlags extends TargetFlags {
  follow?: boolean;
  since: WhenFlag;
  filter?: string;
  level?: LogLevel;
  quiet?: boolean;
}
