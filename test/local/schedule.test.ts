/**
 * The local scheduler on an injected clock: its rate, disable, missed ticks and overlap are
 * checked by advancing time, so "nothing more after disable" is a fact, not a sleep that hopes.
 * Adversaries: a scheduler that keeps a pending timer after disable, one that fires a burst after
 * a suspended laptop wakes, one that overlaps a slow invocation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type LocalSchedule,
  Scheduler,
  type SchedulerClock,
  writeLocalSchedule,
} from '../../src/local/schedule.js';

/** A clock that moves only when told; due timers fire in time order, each followed by its promise callbacks. */
class ManualClock implements SchedulerClock {
  private t = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by ms, firing every timer that falls due on the way, at its own moment. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
  }
  /** Moves time forward by ms at once (a suspended laptop), then fires what is due. */
  async jump(ms: number): Promise<void> {
    this.t += ms;
    await this.advance(0);
  }
}

/** Lets resolved invocations run their callbacks (no time passes). */
const settle = () => new Promise<void>((r) => setImmediate(r));

const on: LocalSchedule = { enabled: true, expression: 'rate(5 seconds)', count: 3 };

describe('Scheduler on an injected clock', () => {
  let dir: string;
  let clock: ManualClock;
  let scheduler: Scheduler | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'paypipe-schedule-'));
    clock = new ManualClock();
  });
  afterEach(async () => {
    await scheduler?.stop();
    scheduler = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (initial: LocalSchedule, invoke: (count: number) => Promise<void> = async () => {}) => {
    scheduler = new Scheduler(dir, initial, invoke, undefined, clock);
    scheduler.start();
    return scheduler;
  };

  it('fires at once when enabled, then once per period, with the schedule count', async () => {
    const counts: number[] = [];
    const s = start(on, async (n) => void counts.push(n));
    await settle();
    expect(s.status.invocations).toBe(1);
    await clock.advance(5000 * 10);
    expect(s.status.invocations).toBe(11);
    expect(counts).toEqual(Array.from({ length: 11 }, () => 3));
    // The status shows the next moment from the tick after a firing (at most 1 s later).
    await clock.advance(1000);
    expect(s.status.nextInvocationAt).toBe(new Date(clock.now() + 4000).toISOString());
  });

  it('fires nothing more once schedule.json says disabled, however long the clock runs', async () => {
    const s = start(on);
    await clock.advance(5000 * 2);
    expect(s.status.invocations).toBe(3);
    await writeLocalSchedule(dir, { ...on, enabled: false });
    // The file is re-read at the next tick (within 1 s); then two whole periods and more pass.
    await clock.advance(1000);
    expect(s.status.enabled).toBe(false);
    const afterOff = s.status.invocations;
    await clock.advance(5000 * 2 + 1);
    await clock.advance(60_000);
    expect(s.status.invocations).toBe(afterOff);
    expect(s.status.nextInvocationAt).toBeUndefined();
    // Enabled again: fires at once, as when first enabled.
    await writeLocalSchedule(dir, on);
    await clock.advance(1000);
    expect(s.status.invocations).toBe(afterOff + 1);
  });

  it('skips missed ticks after the clock jumps (a suspended laptop) instead of firing a burst', async () => {
    const s = start(on);
    await settle();
    await clock.jump(5000 * 20);
    expect(s.status.invocations).toBe(2);
    await clock.advance(5000);
    expect(s.status.invocations).toBe(3);
  });

  it('never overlaps a slow invocation: ticks that fall due while it runs are skipped', async () => {
    let release: () => void = () => {};
    let running = 0;
    let maxRunning = 0;
    const s = start(on, async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise<void>((r) => {
        release = r;
      });
      running--;
    });
    await clock.advance(5000 * 4);
    expect(s.status.invocations).toBe(1);
    release();
    await settle();
    await clock.advance(5000);
    expect(s.status.invocations).toBe(2);
    expect(maxRunning).toBe(1);
    release();
  });

  it('stop() leaves no timer behind', async () => {
    const s = start(on);
    await clock.advance(5000);
    await s.stop();
    scheduler = undefined;
    expect(clock.pending()).toBe(0);
    await clock.advance(60_000);
    expect(s.status.invocations).toBe(2);
  });
});
