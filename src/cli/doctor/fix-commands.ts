/**
 * How a fix spells a command: as the user would paste it, with the flags that picked this target
 * kept (`--local --data-dir …`, `--env …`, `--region …`), so that a hint printed by
 * `paypipe doctor --local --data-dir /tmp/p` is about that pipeline and not the default one.
 * Pure; values are shell-quoted. Doctor builds its fixes whole, from the facts, because they are
 * part of the report in --json too; src/cli/hints.ts, which adds the flags to other commands'
 * human output, leaves a command that already carries them alone. (A value holding a backtick or a
 * line break cannot be shown inside a backticked command on one line: not supported in fixes.)
 */
import { shellQuote } from '../hints.js';
import type { Invocation } from './facts.js';

/**
 * Which target flags a command takes: the data and operations commands (`send`, `logs`,
 * `schedule`, `doctor`, ...) take all of them; the stack commands (`deploy`) take the AWS ones but
 * no `--stack`; `up` takes only `--data-dir`.
 */
export type CommandKind = 'target' | 'stack' | 'up';

function targetFlags(inv: Invocation, kind: CommandKind): string[] {
  const flag = (name: string, v: string | undefined): string[] =>
    v === undefined ? [] : [name, shellQuote(v)];
  if (inv.target === 'local') {
    if (kind === 'stack') return [];
    return [...(kind === 'target' ? ['--local'] : []), ...flag('--data-dir', inv.dataDir)];
  }
  if (kind === 'up') return [];
  return [
    ...flag('--env', inv.env),
    ...flag('--project', inv.project),
    ...flag('--region', inv.region),
    ...flag('--profile', inv.profile),
    ...(kind === 'target' ? flag('--stack', inv.stack) : []),
  ];
}

/** `` `paypipe <args> <target flags>` ``; `args` is literal text (no user values in it). */
export function paypipe(inv: Invocation, args: string, kind: CommandKind = 'target'): string {
  return `\`${['paypipe', args, ...targetFlags(inv, kind)].join(' ')}\``;
}

/** `` `aws <args> --region R [--profile P]` ``: AWS CLI commands do not see paypipe's flags. */
export function awsCli(inv: Invocation, region: string, args: string): string {
  const profile =
    inv.target === 'aws' && inv.profile !== undefined ? ` --profile ${shellQuote(inv.profile)}` : '';
  return `\`aws ${args} --region ${shellQuote(region)}${profile}\``;
}
