/**
 * `paypipe up`: flags and help only; the implementation (src/cli/local/up.ts, with the SDK and the
 * local servers) is loaded when the command runs.
 */
import { type Command, Option } from 'commander';
import { assemblyFlag, DEFAULT_DATA_DIR, dirFlag, durationFlag, intFlag, ioFor } from '../options.js';

interface UpFlags {
  dataDir: string;
  schedule: boolean;
  shards?: number;
  bufferInterval?: number;
  stopTimeout: number;
  exitWithParent: boolean;
  assembly?: string;
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
    .addOption(
      new Option(
        '--stop-timeout <duration>',
        'longest a stop takes: buffers are delivered until then, the rest is saved and delivered by the next up',
      )
        .argParser(durationFlag('--stop-timeout', 0, 600_000))
        .default(5000, '5s'),
    )
    .option(
      '--assembly <dir>',
      'run the functions from this cloud assembly (`paypipe synth --out <dir>`) instead of a fresh synthesis of this checkout',
      assemblyFlag('--assembly'),
    )
    .option(
      '--no-exit-with-parent',
      'keep running when the process that started up exits (by default up then stops, as on SIGTERM)',
    )
    .addHelpText(
      'after',
      `
The functions run from their deployment bundles: the stack is synthesized from this checkout (cached
until a source file, the lock file or the configuration changes) and each function is loaded from its
code asset with the template's handler, environment, memory, timeout and role permissions.

State survives restarts: run \`paypipe up\` again on the same --data-dir and every poller resumes from
its checkpoint (nothing lost, nothing counted twice). Other commands find the running pipeline with
--local (and the same --data-dir): send, results, peek, logs, doctor, schedule.

Stopping: the first Ctrl-C (SIGINT, SIGTERM, SIGHUP) delivers what is buffered for up to
--stop-timeout; whatever cannot be delivered by then (a deleted bucket, say) is saved in the data
dir and delivered first by the next \`paypipe up\`. A second Ctrl-C saves it at once. Exit status 0
means everything was delivered; 1 comes with one line saying what was left and where.
Under a supervisor, run the bin itself (\`node_modules/.bin/paypipe up\`), not \`npx\` or \`npm run\`:
their shell may not pass SIGTERM on (up then notices its parent exit and stops within a second).

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
          stopTimeoutMs: flags.stopTimeout,
          exitWithParent: flags.exitWithParent,
          ...(flags.assembly === undefined ? {} : { assembly: flags.assembly }),
        },
        ioFor(cmd),
      );
    });
}
