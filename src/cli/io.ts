/**
 * The one io layer. Commands never write to stdout/stderr themselves: they return a typed result
 * and report progress here, and this decides human vs `--json`, colour vs plain, spinner vs
 * plain lines. Results go to stdout, everything else to stderr.
 */
import type { Writable } from 'node:stream';
import type { Paint } from '../pipeline/log-format.js';
import { type HintContext, withHintContext } from './hints.js';

export interface IoOptions {
  json?: boolean;
  debug?: boolean;
  quiet?: boolean;
  stdout?: Writable & { isTTY?: boolean; columns?: number };
  stderr?: Writable & { isTTY?: boolean; columns?: number };
  env?: NodeJS.ProcessEnv;
  /** The target flags of this invocation, added to the `paypipe …` commands human output suggests. */
  hints?: HintContext | undefined;
}

export interface Spinner {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

/** Colours for human output: the same shape the log renderer paints with (plain when not a TTY). */
export type Style = Paint;

const ansi =
  (open: number, close: number) =>
  (s: string): string =>
    `\u001b[${open}m${s}\u001b[${close}m`;
const colourStyle: Style = {
  bold: ansi(1, 22),
  dim: ansi(2, 22),
  red: ansi(31, 39),
  green: ansi(32, 39),
  yellow: ansi(33, 39),
  cyan: ansi(36, 39),
};
const id = (s: string): string => s;
const plainStyle: Style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

export class Io {
  readonly json: boolean;
  readonly debug: boolean;
  readonly quiet: boolean;
  readonly stdout: NonNullable<IoOptions['stdout']>;
  readonly stderr: NonNullable<IoOptions['stderr']>;
  /** Colour only on a TTY and never with NO_COLOR; computed per stream. */
  readonly style: Style;
  readonly errStyle: Style;
  /** Spinners and live status lines only on an interactive stderr. */
  readonly interactive: boolean;
  readonly hints: HintContext | undefined;

  constructor(o: IoOptions = {}) {
    const env = o.env ?? process.env;
    this.json = o.json ?? false;
    this.debug = o.debug ?? false;
    this.quiet = o.quiet ?? false;
    this.stdout = o.stdout ?? process.stdout;
    this.stderr = o.stderr ?? process.stderr;
    const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
    const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
    this.style = this.stdout.isTTY === true && !noColor ? colourStyle : plainStyle;
    this.errStyle = this.stderr.isTTY === true && !noColor ? colourStyle : plainStyle;
    this.interactive = this.stderr.isTTY === true && !noColor && !ci;
    this.hints = o.hints;
  }

  /** Human text with every suggested `paypipe …` command pointed where this invocation points. */
  private suggest(text: string): string {
    return withHintContext(text, this.hints);
  }

  /** A result for stdout: JSON document with --json, else the human rendering. */
  result<T>(value: T, human: (value: T, style: Style) => string): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const text = this.suggest(human(value, this.style));
      if (text !== '') this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** One NDJSON line (streams of results under --json) or one human line. */
  line(value: unknown, human: string): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value)}\n`);
    else this.stdout.write(`${human}\n`);
  }

  /** Progress and notes: stderr, suppressed by --quiet. */
  info(message: string): void {
    if (!this.quiet) this.stderr.write(`${this.suggest(message)}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.errStyle.yellow('warning:')} ${this.suggest(message)}\n`);
  }

  debugLog(message: string): void {
    if (this.debug) this.stderr.write(`${this.errStyle.dim(`debug: ${message}`)}\n`);
  }

  /**
   * A spinner on an interactive stderr (ora, loaded lazily), plain lines otherwise. Under --json
   * progress still goes to stderr so stdout stays one document.
   */
  async spinner(text: string): Promise<Spinner> {
    if (!this.interactive || this.quiet) {
      if (!this.quiet) this.stderr.write(`${text}\n`);
      let last = text;
      return {
        update: (t) => {
          last = t;
        },
        succeed: (t) => {
          if (!this.quiet) this.stderr.write(`${t ?? last}\n`);
        },
        fail: (t) => this.stderr.write(`${t ?? last}\n`),
        stop: () => {},
      };
    }
    const { default: ora } = await import('ora');
    const s = ora({ text, stream: this.stderr }).start();
    return {
      update: (t) => {
        s.text = t;
      },
      succeed: (t) => {
        s.succeed(t);
      },
      fail: (t) => {
        s.fail(t);
      },
      stop: () => {
        s.stop();
      },
    };
  }
}
