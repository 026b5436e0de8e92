/** `paypipe query` flags as commander hands them to the action (wired in ./command.ts). */
import type { WhenFlag } from '../../pipeline/time-range.js';
import type { SqlBackendFlags } from '../sql-backend.js';

export interface QueryFlags extends SqlBackendFlags {
  since?: WhenFlag;
  until?: WhenFlag;
  sql?: string;
  totals?: boolean;
  windows?: boolean;
  undecided?: boolean;
  duplicates?: boolean;
  format?: 'table' | 'json' | 'csv';
}
