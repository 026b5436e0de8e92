/** The `logs` action: flags → source and options, Ctrl-C → a clean end of `--follow`. */
import type { Command } from 'commander';
import { resolveSince } from '../../pipeline/time-range.js';
import type { LogsFlags } from './flags.js';
import { ioFor } from '../options.js';
import { resolveTarget } from '../target.js';
import { type LogsSource, type LogsWhich, runLogs } from './logs.js';
import { compileFilter } from './logs.js';
import { interruptSignal } from '../interrupt.js';

const DAY_MS = 86_400_000;

export async function logsCommand(which: LogsWhich, flags: LogsFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const now = Date.now();
  const sinceMs = resolveSince(flags.since, now);
  // Bad local patterns are usage errors before anything is read.
  if (flags.local === true) compileFilter(flags.filter);
  let source: LogsSource;
  if (flags.local === true) {
    source = { kind: 'local', dataDir: flags.dataDir ?? '.paypipe' };
  } else {
    const t = await resolveTarget(flags, { need: ['producerFunction', 'aggregatorFunction'] });
    if (t.kind !== 'aws') throw new Error('unreachable: AWS target expected');
    source = {
      kind: 'aws',
      clientTarget: t.clientTarget,
      functions: { producer: t.names.producerFunction, aggregator: t.names.aggregatorFunction },
    };
  }
  const interrupt = interruptSignal();
  // `paypipe logs | head`: a closed pipe ends the command quietly instead of crashing on EPIPE.
  const onStdoutError = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') interrupt.abort();
    else throw e;
  };
  io.stdout.on('error', onStdoutError);
  try {
    const summary = await runLogs(
      source,
      {
        which,
        sinceMs,
        filter: flags.filter,
        level: flags.level,
        follow: flags.follow === true,
        hidePlatform: flags.quiet === true,
        date: now - sinceMs > DAY_MS,
      },
      io,
      interrupt.signal,
    );
    if (summary.printed === 0 && !io.json && flags.follow !== true) {
      io.info(`no log events since ${new Date(sinceMs).toISOString()} (try a longer --since)`);
    }
  } finally {
    // The stdout listener stays: writes still buffered for a closed pipe may fail after this returns.
    interrupt.dispose();
  }
}
