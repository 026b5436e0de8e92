/**
 * The `doctor` action: gather the facts (AWS or local), judge them with the one list of checks,
 * print the report (render.ts, or the report itself with --json), exit 1 when a check failed.
 */
import type { Command } from 'commander';
import { PaypipeError } from '../../errors.js';
import { ioFor } from '../options.js';
import { buildReport, type DoctorReport } from './checks.js';
import { interruptSignal } from '../interrupt.js';
import type { DoctorFlags } from './flags.js';
import type { GatherOptions } from './gather-common.js';
import { renderReport } from './render.js';

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

/** Gather → judge: the typed result of `paypipe doctor`. */
export async function runDoctor(flags: DoctorFlags, o: GatherOptions): Promise<DoctorReport> {
  if (flags.local === true) {
    const { gatherLocal } = await import('./gather-local.js');
    return buildReport(await gatherLocal(flags, o));
  }
  const { gatherAws } = await import('./gather-aws.js');
  return buildReport(await gatherAws(flags, o));
}

export async function doctorCommand(flags: DoctorFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const local = flags.local === true;
  const spinner = await io.spinner(local ? 'checking the local pipeline' : 'checking the deployed pipeline');
  // Ctrl-C ends a waiting probe early; the report still prints.
  const interrupt = interruptSignal();
  let report: DoctorReport;
  try {
    report = await runDoctor(flags, {
      probe: flags.probe === true,
      timeoutMs: flags.timeout ?? DEFAULT_PROBE_TIMEOUT_MS[local ? 'local' : 'aws'],
      maxLagMs: flags.maxLag,
      staleAfterMs: flags.staleAfter,
      progress: (m) => spinner.update(m),
      debug: (m) => io.debugLog(m),
      signal: interrupt.signal,
    });
  } finally {
    spinner.stop();
    interrupt.dispose();
  }
  io.result(report, renderReport);
  const err = failedChecksError(report);
  if (err !== undefined) throw err;
}
