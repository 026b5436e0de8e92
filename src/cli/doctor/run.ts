/** The `doctor` action: pick AWS or local, run the checks, print the report, exit 1 on a failure. */
import type { Command } from 'commander';
import { type DoctorReport, renderReport } from './checks.js';
import { PaypipeError } from '../../errors.js';
import type { DoctorFlags } from './command.js';
import { ioFor } from '../options.js';
import { awsDoctor, type DoctorOptions, doctorConfig } from './facts-aws.js';
import { localDoctor } from './facts-local.js';
import { interruptSignal } from '../interrupt.js';

export const DEFAULT_PROBE_TIMEOUT_MS = { aws: 300_000, local: 60_000 } as const;

/** The error that makes the exit status 1 after the report is printed. */
export function failedChecksError(r: DoctorReport): PaypipeError | undefined {
  if (r.ok) return undefined;
  const failed = r.checks.filter((c) => c.status === 'fail');
  return new PaypipeError(
    'CHECK_FAILED',
    `${failed.length} of ${r.checks.length} checks failed: ${failed.map((c) => c.id).join(', ')}`,
    { hint: 'each failing check above says how to fix it', details: { failed: failed.map((c) => c.id) } },
  );
}

export async function doctorCommand(flags: DoctorFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const local = flags.local === true;
  const spinner = await io.spinner(local ? 'checking the local pipeline' : 'checking the deployed pipeline');
  const interrupt = interruptSignal();
  const o: DoctorOptions = {
    probe: flags.probe === true,
    timeoutMs: flags.timeout ?? DEFAULT_PROBE_TIMEOUT_MS[local ? 'local' : 'aws'],
    maxLagMs: flags.maxLag,
    staleAfterMs: flags.staleAfter,
    progress: (m) => spinner.update(m),
    debug: (m) => io.debugLog(m),
    signal: interrupt.signal,
  };
  let report: DoctorReport;
  try {
    if (local) {
      report = await localDoctor(flags, o);
    } else {
      const { awsOnlyClients } = await import('../../aws/clients.js');
      const { region } = doctorConfig(flags, process.env);
      const clients = await awsOnlyClients(
        { kind: 'aws', region, profile: flags.profile ?? process.env.AWS_PROFILE },
        { maxAttempts: 3 },
      );
      report = await awsDoctor(flags, o, { clients });
    }
  } finally {
    spinner.stop();
    interrupt.dispose();
  }
  io.result(report, renderReport);
  const err = failedChecksError(report);
  if (err !== undefined) throw err;
}
