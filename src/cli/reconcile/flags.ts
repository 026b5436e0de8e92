/** `paypipe reconcile` flags as commander hands them to the action (wired in ./command.ts). */
import type { WhenFlag } from '../../pipeline/time-range.js';
import type { SqlBackendFlags } from '../sql-backend.js';

export interface ReconcileFlags extends SqlBackendFlags {
  since?: WhenFlag;
  until?: WhenFlag;
}
