/**
 * The producer's schedule (EventBridge locally): `rate(N minute|minutes|second|seconds|hour|hours|day|days)`.
 * Its state lives in `<dataDir>/schedule.json` ({ enabled, expression, count }) so another
 * process (`paypipe schedule --local`) can change it while `up` runs: the scheduler re-reads the
 * file every second.
 */
import { readFileSync } from 'node:fs';
import { type PipelineConfig, resolveConfig, type ConfigOverrides } from '../pipeline/config.js';
import { PaypipeError, usageError } from '../errors.js';
import { localPaths, readJsonSync, writeJsonAtomicSync } from './files.js';

export interface LocalSchedule {
  enabled: boolean;
  /** EventBridge schedule expression, e.g. `rate(1 minute)`. */
  expression: string;
  /** Events per producer invocation. */
  count: number;
}

const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * The period of a rate() expression in ms. EventBridge's own rules: the unit is singular for 1
 * and plural otherwise. cron() is not run locally — rejected with a hint rather than guessed at.
 */
export function parseScheduleExpression(expression: string): number {
  const s = expression.trim();
  if (/^cron\(/i.test(s)) {
    throw usageError(
      `schedule "${s}": cron() expressions are not run by the local pipeline`,
      'use an equivalent rate(), e.g. rate(1 minute) or rate(5 minutes)',
    );
  }
  const m = /^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$/.exec(s);
  if (m === null) {
    throw usageError(
      `schedule "${s}" is not a rate expression like rate(1 minute) or rate(30 seconds)`,
      'units: second(s), minute(s), hour(s), day(s)',
    );
  }
  const n = Number(m[1]);
  const unit = m[2] as string;
  const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;
  if (n < 1) throw usageError(`schedule "${s}": the rate must be at least 1`);
  if ((n === 1) !== (singular === unit)) {
    throw usageError(
      `schedule "${s}": write rate(1 ${singular}) for one and rate(${n === 1 ? 2 : n} ${singular}s) otherwise`,
      'EventBridge rejects the other form, so the local pipeline does too',
    );
  }
  return n * (UNIT_MS[singular] as number);
}

export function defaultSchedule(config: PipelineConfig): LocalSchedule {
  return {
    enabled: config.producer.scheduleEnabled,
    expression: config.producer.schedule,
    count: config.producer.eventsPerInvocation,
  };
}

function validate(s: LocalSchedule, where: string): LocalSchedule {
  if (typeof s.enabled !== 'boolean' || typeof s.expression !== 'string') {
    throw new PaypipeError('DATA', `${where}: needs "enabled" (true/false) and "expression"`, {
      hint: 'fix or delete the file',
    });
  }
  if (!Number.isInteger(s.count) || s.count < 1 || s.count > 100_000) {
    throw new PaypipeError('DATA', `${where}: "count" must be a whole number from 1 to 100,000`, {
      hint: 'fix or delete the file',
    });
  }
  parseScheduleExpression(s.expression);
  return { enabled: s.enabled, expression: s.expression.trim(), count: s.count };
}

/**
 * The schedule of the local pipeline in dataDir: the file when present, else the defaults of the
 * configuration the running pipeline was started with (or the default configuration).
 */
export async function readLocalSchedule(dataDir: string): Promise<LocalSchedule> {
  const paths = localPaths(dataDir);
  let s: LocalSchedule | undefined;
  try {
    s = readJsonSync<LocalSchedule>(paths.schedule);
  } catch (e) {
    throw new PaypipeError('DATA', `${paths.schedule} is not valid JSON: ${(e as Error).message}`, {
      hint: 'fix or delete the file',
    });
  }
  if (s !== undefined) return validate(s, paths.schedule);
  const ep = readJsonSync<{ configOverrides?: ConfigOverrides }>(paths.endpoints);
  return defaultSchedule(resolveConfig(ep?.configOverrides ?? {}));
}

/** Validates (bad expression → usage error) and writes atomically; a running scheduler picks it up within 1 s. */
export async function writeLocalSchedule(dataDir: string, schedule: LocalSchedule): Promise<void> {
  const s = validate(schedule, 'schedule');
  writeJsonAtomicSync(localPaths(dataDir).schedule, s);
}

/**
 * The clock a Scheduler runs on: wall time and a one-shot timer. The real one is the default; tests
 * inject a manual clock so "no invocation after disable" is checked by advancing time, not by sleeping.
 */
export interface SchedulerClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: SchedulerClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export interface SchedulerStatus extends LocalSchedule {
  invocations: number;
  lastInvocationAt: string | undefined;
  nextInvocationAt: string | undefined;
  lastError: string | undefined;
}

/**
 * Fires `invoke(count)` at the schedule's rate: first right after it is enabled (so `paypipe up`
 * shows traffic at once), then every period. Invocations never overlap.
 */
export class Scheduler {
  private timer: unknown;
  private schedule: LocalSchedule;
  private periodMs: number;
  private nextAt: number | undefined;
  private lastText: string | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;
  readonly status: SchedulerStatus;

  constructor(
    private readonly dataDir: string,
    initial: LocalSchedule,
    private readonly invoke: (count: number) => Promise<void>,
    now: () => number = Date.now,
    private readonly clock: SchedulerClock = { ...realClock, now },
  ) {
    this.now = () => this.clock.now();
    this.schedule = initial;
    this.periodMs = parseScheduleExpression(initial.expression);
    this.status = {
      ...initial,
      invocations: 0,
      lastInvocationAt: undefined,
      nextInvocationAt: undefined,
      lastError: undefined,
    };
  }

  start(): void {
    writeJsonAtomicSync(localPaths(this.dataDir).schedule, this.schedule);
    this.lastText = this.fileText();
    if (this.schedule.enabled) this.nextAt = this.now();
    this.tick();
  }

  /**
   * The file's text, compared rather than its mtime: two writes within one filesystem timestamp tick
   * (a few ms on ext4) share an mtime, and a disable written right after an enable was missed.
   */
  private fileText(): string | undefined {
    try {
      return readFileSync(localPaths(this.dataDir).schedule, 'utf8');
    } catch {
      return undefined;
    }
  }

  private reload(): void {
    const text = this.fileText();
    if (text === this.lastText) return;
    this.lastText = text;
    let next: LocalSchedule;
    try {
      next = validate(
        readJsonSync<LocalSchedule>(localPaths(this.dataDir).schedule) ?? this.schedule,
        'schedule.json',
      );
    } catch (e) {
      this.status.lastError = (e as Error).message;
      return;
    }
    const wasEnabled = this.schedule.enabled;
    const changedRate = next.expression !== this.schedule.expression;
    this.schedule = next;
    this.periodMs = parseScheduleExpression(next.expression);
    if (!next.enabled) this.nextAt = undefined;
    else if (!wasEnabled) this.nextAt = this.now();
    else if (changedRate) this.nextAt = this.now() + this.periodMs;
  }

  private tick(): void {
    if (this.stopped) return;
    this.reload();
    Object.assign(this.status, this.schedule, {
      nextInvocationAt: this.nextAt === undefined ? undefined : new Date(this.nextAt).toISOString(),
    });
    if (this.nextAt !== undefined && this.now() >= this.nextAt && this.running === undefined) {
      // Missed ticks (a slow invocation, a suspended laptop) are skipped, not fired in a burst.
      this.nextAt += this.periodMs * (Math.floor((this.now() - this.nextAt) / this.periodMs) + 1);
      this.status.invocations++;
      this.status.lastInvocationAt = new Date(this.now()).toISOString();
      this.running = this.invoke(this.schedule.count)
        .then(() => {
          this.status.lastError = undefined;
        })
        .catch((e: unknown) => {
          this.status.lastError = e instanceof Error ? e.message : String(e);
        })
        .finally(() => {
          this.running = undefined;
        });
    }
    const wait = this.nextAt === undefined ? 1000 : Math.min(1000, Math.max(10, this.nextAt - this.now()));
    this.timer = this.clock.setTimer(() => this.tick(), wait);
  }

  /** An invocation is running. */
  busy(): boolean {
    return this.running !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimer(this.timer);
    await this.running;
  }
}
