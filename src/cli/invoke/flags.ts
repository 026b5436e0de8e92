/** `paypipe invoke` flags as commander hands them to the action (wired in ./command.ts). */
import type { TargetFlags } from '../options.js';

export type InvokeFunction = 'producer' | 'aggregator';

export interface InvokeFlags extends TargetFlags {
  /** A file with the event, or `-` for stdin; absent: a generated sample event. */
  event?: string;
  /** Sample event: records in the Kinesis batch (aggregator) or events to produce (producer). */
  count?: number;
  seed: number;
  /** Sample aggregator batch: the traffic spec of `send --scenario`. */
  scenario?: string;
  /** Print the event (the given one or the sample) and invoke nothing. */
  printEvent?: boolean;
  /** On AWS: confirms that the aggregator's output (aggregates, dead letters) is real. */
  yes?: boolean;
}
