/**
 * The one error type paypipe throws on purpose. `message` is one line for humans (which input,
 * what is wrong), `hint` says what to do. The exit code follows from `usage`: 2 for a bad
 * invocation, 1 for everything else.
 */
export type ErrorCode =
  | 'USAGE'
  | 'NO_CREDENTIALS'
  | 'STACK_NOT_FOUND'
  /** The stack exists but lacks outputs a command needs (failed, older or partial deploy). */
  | 'STACK_INCOMPLETE'
  | 'LOCAL_NOT_RUNNING'
  | 'LOCAL_ALREADY_RUNNING'
  | 'CONFIG'
  | 'AWS'
  | 'IO'
  | 'DATA'
  | 'TIMEOUT'
  | 'VERIFY_MISMATCH'
  /** --verify: short only where aggregates may still be in the Firehose buffer; run again. */
  | 'VERIFY_PENDING'
  | 'UNSENT'
  /** A stop left records undelivered (saved in the data dir or left on a stream): nothing lost, not done. */
  | 'UNDELIVERED'
  | 'CHECK_FAILED'
  /** Ctrl-C stopped work that was billed or running remotely (an Athena query, stopped too). */
  | 'INTERRUPTED'
  | 'INTERNAL';

export class PaypipeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Extra machine-readable facts for `--json` error output. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PaypipeError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get exitCode(): 1 | 2 {
    return this.code === 'USAGE' ? 2 : 1;
  }
}

export const usageError = (message: string, hint?: string): PaypipeError =>
  new PaypipeError('USAGE', message, hint === undefined ? {} : { hint });

export const isPaypipeError = (e: unknown): e is PaypipeError => e instanceof PaypipeError;
