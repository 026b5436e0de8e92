/**
 * `paypipe up`: flags and help only; the implementation (src/cli/local/up.ts, with the SDK and the
 * local servers) is loaded when the command runs.
 */
import type { Command } from 'commander';
import { DEFAULT_DATA_DIR, dirFlag, intFlag, ioFor } from '../options.js';

interface UpFlags {
  dataDir: string;
  schedule: boolean;
  shards?: number;
  bufferInterval?: number;
}

export function register(program: Command): void {
  program
    .command('up')
    .description(
      'Run the pipeline locally in the foreground (no AWS account): Kinesis and S3 API servers, the ' +
        'aggregator and producer functions, Firehose delivery and the schedule. Ctrl-C stops it cleanly.',
    )
    .option(
      '--data-dir <dir>',
      'where streams, objects, checkpoints and logs are kept',
      dirFlag('--data-dir'),
      DEFAULT_DATA_DIR,
    )
    .option('--no-schedule', 'do not invoke the producer on its schedule (send events yourself)')
    .option('--shards <n>', 'input stream shards (new data dirs only)', intFlag('--shards', 1, 64))
    .option(
      '--buffer-interval <seconds>',
      'Firehose buffer interval in seconds: new aggregates take up to this long to appear (default: 60, like AWS; 1 for quick feedback)',
      intFlag('--buffer-interval', 0, 900),
    )
    .addHelpText(
      'after',
      `
State survives restarts: run \`paypipe up\` again on the same --data-dir and every poller resumes from
its checkpoint (nothing lost, nothing counted twice). Other commands find the running pipeline with
--local (and the same --data-dir): send, results, peek, logs, doctor, schedule.

Examples:
  $ paypipe up                              # .paypipe/ in this directory, producer every minute
  $ paypipe up --no-schedule --buffer-interval 1   # only your own events, aggregates within seconds
  $ paypipe up --data-dir /tmp/pp --shards 4
  $ paypipe send --local --count 500        # in another terminal`,
    )
    .action(async (flags: UpFlags, cmd: Command) => {
      const { upCommand } = await import('./up.js');
      await upCommand(
        {
          dataDir: flags.dataDir,
          schedule: flags.schedule,
          ...(flags.shards === undefined ? {} : { shards: flags.shards }),
          ...(flags.bufferInterval === undefined ? {} : { bufferIntervalSeconds: flags.bufferInterval }),
        },
        ioFor(cmd),
      );
    });
}
