/** `paypipe send` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export interface SendFlags extends TargetFlags {
  count?: number;
  duration?: number;
  rate?: number;
  seed?: number;
  scenario?: string;
  fromFile?: string;
  viaLambda?: boolean;
  stream?: string;
  concurrency?: number;
  maxAttempts?: number;
  unsentFile?: string;
  allowInvalid?: boolean;
}
