/**
 * The local pipeline's logs: `<dataDir>/logs/<producer|aggregator>.ndjson`, one CloudWatch-like
 * event per line (`{ timestamp, logStreamName, message }`). Reading is incremental (byte offset +
 * the unfinished last line) so `--follow` is a cheap tail, and survives truncation.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { LogEvent } from '../pipeline/log-format.js';

const CHUNK = 1 << 20;

/** Incremental reader of one NDJSON log file; `readNew()` returns the events appended since last call. */
export class LogFileTail {
  private offset = 0;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  private ino: number | undefined;

  constructor(
    readonly file: string,
    /** The function name the events are attributed to. */
    readonly fn: string,
  ) {}

  async readNew(): Promise<LogEvent[]> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    // Replaced (new inode) or truncated: start over rather than read from a stale offset.
    if ((this.ino !== undefined && st.ino !== this.ino) || st.size < this.offset) {
      this.offset = 0;
      this.partial = '';
      this.decoder = new StringDecoder('utf8');
    }
    this.ino = st.ino;
    if (st.size === this.offset) return [];
    const fh = await open(this.file, 'r');
    let text = this.partial;
    try {
      const buf = Buffer.alloc(Math.min(CHUNK, st.size - this.offset));
      while (this.offset < st.size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, st.size - this.offset), this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        text += this.decoder.write(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
    const lines = text.split('\n');
    // The last piece has no newline yet: a line being written right now.
    this.partial = lines.pop() ?? '';
    const out: LogEvent[] = [];
    for (const line of lines) {
      const e = parseLine(line, this.fn);
      if (e !== undefined) out.push(e);
    }
    return out;
  }
}

function parseLine(line: string, fn: string): LogEvent | undefined {
  if (line.trim() === '') return undefined;
  try {
    const o = JSON.parse(line) as { timestamp?: unknown; message?: unknown; logStreamName?: unknown };
    if (typeof o.timestamp !== 'number' || typeof o.message !== 'string') return undefined;
    return {
      function: fn,
      timestamp: o.timestamp,
      message: o.message,
      logStreamName: typeof o.logStreamName === 'string' ? o.logStreamName : undefined,
    };
  } catch {
    // A torn line (the pipeline was killed mid-write) is skipped, not fatal.
    return undefined;
  }
}

export function localLogTails(logsDir: string, fns: readonly string[]): LogFileTail[] {
  return fns.map((fn) => new LogFileTail(join(logsDir, `${fn}.ndjson`), fn));
}
