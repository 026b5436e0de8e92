/** An Io that writes nowhere, for tests that call a command's run logic directly. */
import { Writable } from 'node:stream';
import { Io } from '../../src/cli/io.js';

export const quietIo = (env: Record<string, string> = {}): Io => {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return new Io({ stdout: sink, stderr: sink, env });
};
