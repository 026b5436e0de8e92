/**
 * `paypipe invoke producer|aggregator`: flags and help only; the runtime, the SDK and the sample
 * event generator load when the command runs (./invoke.ts).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { addTargetOptions, intFlag } from '../options.js';
import type { InvokeFlags, InvokeFunction } from './flags.js';

const FUNCTIONS: readonly InvokeFunction[] = ['producer', 'aggregator'];

export function register(program: Command): void {
  const cmd = program
    .command('invoke')
    .description(
      'Invoke the producer or the aggregator once with an event (a file, stdin, or a generated sample) ' +
        'and print its response and logs: on AWS through the Lambda API, with --local through the local ' +
        "pipeline's runtime (the same bundle, environment, timeout and role permissions).",
    )
    .argument('<function>', 'producer or aggregator', (v: string) => {
      if (!(FUNCTIONS as readonly string[]).includes(v)) {
        throw new InvalidArgumentError(
          `"${v}" is not a function of the pipeline: use producer or aggregator`,
        );
      }
      return v as InvokeFunction;
    })
    .option(
      '--event <file>',
      'the event as JSON, from a file or - for stdin (default: a generated sample event)',
    )
    .option(
      '-n, --count <n>',
      'sample event: records in the Kinesis batch (aggregator, default 10) or events to produce (producer: {"count": n})',
      intFlag('--count', 1, 10_000),
    )
    .option('--seed <n>', 'sample event: generator seed', intFlag('--seed', 0, 2 ** 31 - 1), 42)
    .option(
      '--scenario <spec>',
      'sample aggregator batch: traffic as `send --scenario` takes it, e.g. messy or malformed=0.2',
    )
    .option('--print-event', 'print the event (given or sample) and invoke nothing')
    .option(
      '--yes',
      "on AWS: invoke the aggregator although its aggregates and dead letters land in the stack's real output",
    );
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Sample events are what the function receives in the pipeline: the aggregator gets a Kinesis batch
(the event source mapping's shape, records from the payment generator), the producer the
EventBridge "Scheduled Event" (or {"count": n} with --count, as \`schedule --count\` sets it).
An --event file must be that function's kind of event: a schedule event for the producer, a Kinesis
batch for the aggregator (anything else is refused before anything is invoked).
With --local, \`paypipe up\` must be running: the function runs from the same cloud assembly, its
calls reach that pipeline's streams and buckets and are checked against the role's policies, and
its log lines go to \`paypipe logs --local\` too. Exit status 1 when the function returns an error.
The aggregator's output is real: its aggregates reach the output stream and the archive, so
\`results\` counts the invoked payments and \`reconcile\` reports them (they are not in the raw
archive). On AWS it therefore runs only with --yes.

Examples:
  $ paypipe invoke aggregator --local                        # a sample batch of 10 payments
  $ paypipe invoke aggregator --local --scenario messy -n 200
  $ paypipe invoke producer --env dev --count 50
  $ paypipe invoke aggregator --print-event > batch.json     # edit it, then:
  $ paypipe invoke aggregator --local --event batch.json
  $ cat batch.json | paypipe invoke aggregator --env dev --event - --yes`,
  );
  cmd.action(async (fn: InvokeFunction, flags: InvokeFlags, c: Command) => {
    const { invokeCommand } = await import('./invoke.js');
    await invokeCommand(fn, flags, c);
  });
}
