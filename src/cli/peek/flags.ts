/** `paypipe peek` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';
import type { WhenFlag } from '../../pipeline/time-range.js';

export interface PeekFlags extends TargetFlags {
  stream: string;
  since?: WhenFlag;
  follow?: boolean;
  count?: number;
  /** Old spellings, hidden: --at and --from (trim-horizon, latest or a time) are --since; --limit is --count. */
  at?: WhenFlag;
  from?: WhenFlag;
  limit?: number;
}
