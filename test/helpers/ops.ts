/** Test helpers for test/ops: an Io that captures stdout/stderr, and waiting on captured output. */
import { Writable } from 'node:stream';
import { Io } from '../../src/cli/io.js';

export interface Captured {
  io: Io;
  out(): string;
  err(): string;
  /** stdout lines (without the trailing empty one). */
  lines(): string[];
}

const sink = (chunks: string[]) =>
  new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });

export function captureIo(o: { json?: boolean; quiet?: boolean; tty?: boolean } = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = Object.assign(sink(out), { isTTY: o.tty === true });
  const stderr = Object.assign(sink(err), { isTTY: false });
  const io = new Io({ json: o.json === true, quiet: o.quiet === true, stdout, stderr, env: {} });
  return {
    io,
    out: () => out.join(''),
    err: () => err.join(''),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  };
}

export { waitFor } from './wait-for.js';
