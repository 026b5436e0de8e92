/**
 * "Every hint printed is a command that works when pasted." The adversary: a fix that names a
 * command the CLI rejects, or one that silently points at another pipeline (the default data dir,
 * the dev stack) because it dropped --local/--data-dir/--env. For any facts and any target flags
 * (data dirs with spaces, quotes, `$` and globs included), every `paypipe …` in every fix is split
 * by a real shell, parsed by the real commander program, and must keep the target.
 */
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../../src/cli/doctor/checks.js';
import type { DoctorFacts, Invocation } from '../../../src/cli/doctor/facts.js';
import { paypipe } from '../../../src/cli/doctor/fix-commands.js';
import { buildProgram } from '../../../src/cli/main.js';
import { anyFacts, awsFacts, k, localFacts } from '../../factories/doctor-facts.js';

const words = new Map<string, string[]>();
/** What a POSIX shell makes of the pasted text (cached: the same hints recur across runs). */
function shellSplit(line: string): string[] {
  let w = words.get(line);
  if (w === undefined) {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
    w = out.split('\0').slice(0, -1);
    words.set(line, w);
  }
  return w;
}

interface Parsed {
  command: string;
  opts: Record<string, unknown>;
}

/** Runs argv through the real program with every action replaced by a recorder. */
async function parse(argv: string[]): Promise<Parsed> {
  const program = await buildProgram();
  let got: Parsed | undefined;
  for (const c of program.commands) {
    c.action((...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      got = { command: cmd.name(), opts: cmd.opts() };
    });
  }
  await program.parseAsync(['node', 'paypipe', ...argv]);
  if (got === undefined) throw new Error(`no command ran for ${argv.join(' ')}`);
  return got;
}

const commandsIn = (text: string, tool: 'paypipe' | 'aws'): string[] =>
  [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).filter((c) => c.startsWith(`${tool} `));

/** Every fix command of the report works for this target; returns how many were checked. */
async function checkHints(f: DoctorFacts): Promise<number> {
  const inv = f.invocation;
  let n = 0;
  for (const c of buildReport(f).checks) {
    for (const line of commandsIn(c.fix ?? '', 'paypipe')) {
      n++;
      const argv = shellSplit(line);
      expect(argv[0]).toBe('paypipe');
      const p = await parse(argv.slice(1)).catch((e: unknown) => {
        throw new Error(`${c.id}: \`${line}\` does not parse: ${(e as Error).message}`);
      });
      const where = `${c.id}: \`${line}\``;
      if (inv.target === 'local') {
        expect(p.opts.dataDir, where).toBe(inv.dataDir ?? '.paypipe');
        if (p.command !== 'up') expect(p.opts.local, where).toBe(true);
      } else if (p.opts.local !== true) {
        // (`paypipe doctor --local` is offered on purpose to someone without an AWS account.)
        expect(p.opts.env, where).toBe(inv.env ?? 'dev');
        // --project has no default: the configuration file's project applies unless typed.
        expect(p.opts.project, where).toBe(inv.project);
        if (c.id !== 'region') expect(p.opts.region, where).toBe(inv.region);
        expect(p.opts.profile, where).toBe(inv.profile);
        if (p.command !== 'deploy') expect(p.opts.stack, where).toBe(inv.stack);
      }
    }
    for (const line of commandsIn(c.fix ?? '', 'aws')) {
      n++;
      const argv = shellSplit(line);
      // Setting credentials up needs no region; calls to a service do.
      if (argv[1] === 'configure' || argv[1] === 'sso') continue;
      const at = argv.indexOf('--region');
      expect(at, line).toBeGreaterThan(0);
      if (inv.target === 'aws' && inv.profile !== undefined) {
        expect(argv[argv.indexOf('--profile') + 1], line).toBe(inv.profile);
      }
    }
  }
  return n;
}

describe('fix commands work when pasted', () => {
  it('for any facts and any target flags, every paypipe command parses and keeps the target', async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyFacts('aws'), anyFacts('local')), async (f) => {
        checked += await checkHints(f);
      }),
      { numRuns: 80 },
    );
    // The property must have looked at real hints, not vacuously passed.
    expect(checked).toBeGreaterThan(100);
  });

  it('a local data dir with spaces and quotes is quoted so the shell gives it back whole', async () => {
    const dir = `/tmp/it's my "pipeline" $HOME *`;
    const f = localFacts({ target: 'local', dataDir: dir });
    f.schedule = k({ name: 'local scheduler', enabled: false, expression: 'rate(1 minute)', count: 5 });
    const fix = buildReport(f).checks.find((c) => c.id === 'schedule')?.fix ?? '';
    const [line] = commandsIn(fix, 'paypipe');
    expect(shellSplit(line as string)).toEqual([
      'paypipe',
      'schedule',
      '--enable',
      '--local',
      '--data-dir',
      dir,
    ]);
    expect(await checkHints(f)).toBeGreaterThan(0);
  });

  it('on AWS the environment, region and profile stay; deploy takes no --stack', () => {
    const inv: Invocation = {
      target: 'aws',
      env: 'prod',
      region: 'eu-west-1',
      profile: 'ops',
      stack: 'custom',
    };
    const f = awsFacts(inv);
    f.stack = k({ name: 'custom', status: 'UPDATE_ROLLBACK_COMPLETE' });
    expect(buildReport(f).checks.find((c) => c.id === 'stack')?.fix).toContain(
      '`paypipe deploy --env prod --region eu-west-1 --profile ops`',
    );
    expect(paypipe(inv, 'logs aggregator')).toBe(
      '`paypipe logs aggregator --env prod --region eu-west-1 --profile ops --stack custom`',
    );
  });
});
