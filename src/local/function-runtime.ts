/**
 * A Lambda function run in-process, as far as its handler and its logs can tell: a pool of
 * execution environments (one handler instance and one log stream each, so concurrent
 * invocations from two shards never interleave lines in one stream), a Context object, the
 * configured timeout, and CloudWatch-like log events with the platform's START/END/REPORT lines
 * in `<dataDir>/logs/<name>.ndjson`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type WriteStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Sink = (line: string) => void;

export interface LogEvent {
  timestamp: number;
  logStreamName: string;
  message: string;
}

export interface LambdaContextLike {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

export type Handler<E, R> = (event: E, context: LambdaContextLike) => Promise<R>;

export interface LocalFunctionOptions<E, R> {
  /** Physical function name (from the config). */
  name: string;
  /** File name under logs/: `producer` or `aggregator`. */
  logName: string;
  region: string;
  accountId: string;
  memoryMiB: number;
  timeoutSeconds: number;
  logsDir: string;
  /** Builds one execution environment's handler; its logger writes through `sink`. */
  init: (sink: Sink) => Handler<E, R>;
  now?: () => number;
}

export class FunctionTimeoutError extends Error {
  constructor(seconds: number) {
    super(`Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

interface Environment<E, R> {
  handler: Handler<E, R>;
  logStreamName: string;
}

const pad = (n: number): string => String(n).padStart(2, '0');

export class LocalFunction<E, R> {
  readonly arn: string;
  private readonly free: Environment<E, R>[] = [];
  private readonly out: WriteStream;
  private readonly now: () => number;
  invocations = 0;
  errors = 0;

  constructor(private readonly o: LocalFunctionOptions<E, R>) {
    this.arn = `arn:aws:lambda:${o.region}:${o.accountId}:function:${o.name}`;
    this.now = o.now ?? Date.now;
    mkdirSync(o.logsDir, { recursive: true });
    this.out = createWriteStream(join(o.logsDir, `${o.logName}.ndjson`), { flags: 'a' });
    this.out.on('error', () => {});
  }

  private write(logStreamName: string, message: string): void {
    const e: LogEvent = { timestamp: this.now(), logStreamName, message };
    this.out.write(`${JSON.stringify(e)}\n`);
  }

  private environment(): Environment<E, R> {
    const env = this.free.pop();
    if (env !== undefined) return env;
    const d = new Date(this.now());
    const logStreamName = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const created: Environment<E, R> = { logStreamName, handler: undefined as unknown as Handler<E, R> };
    // Lines the handler logs while being built (init phase) belong to the environment's stream.
    created.handler = this.o.init((line) => this.write(logStreamName, line));
    return created;
  }

  /** One invocation: START, the handler's lines, END, REPORT; the handler's error is rethrown. */
  async invoke(event: E): Promise<R> {
    const env = this.environment();
    const requestId = randomUUID();
    const started = performance.now();
    const deadline = this.now() + this.o.timeoutSeconds * 1000;
    this.invocations++;
    this.write(env.logStreamName, `START RequestId: ${requestId} Version: $LATEST`);
    const context: LambdaContextLike = {
      functionName: this.o.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.arn,
      memoryLimitInMB: String(this.o.memoryMiB),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${this.o.name}`,
      logStreamName: env.logStreamName,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.now()),
    };
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      return await Promise.race([
        env.handler(event, context),
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => {
            timedOut = true;
            rej(new FunctionTimeoutError(this.o.timeoutSeconds));
          }, this.o.timeoutSeconds * 1000);
        }),
      ]);
    } catch (e) {
      this.errors++;
      const err = e instanceof Error ? e : new Error(String(e));
      // What the Node runtime prints for an unhandled handler error.
      this.write(
        env.logStreamName,
        `${new Date(this.now()).toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify({ errorType: err.name, errorMessage: err.message })}`,
      );
      throw err;
    } finally {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const maxUsed = Math.round(process.memoryUsage().rss / 1024 / 1024);
      this.write(env.logStreamName, `END RequestId: ${requestId}`);
      this.write(
        env.logStreamName,
        `REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(ms))} ms\tMemory Size: ${this.o.memoryMiB} MB\tMax Memory Used: ${Math.min(maxUsed, this.o.memoryMiB)} MB`,
      );
      // Lambda discards an environment whose invocation timed out (its handler may still be running).
      if (!timedOut) this.free.push(env);
    }
  }

  /** Flushes the log file. */
  async close(): Promise<void> {
    await new Promise<void>((res) => this.out.end(() => res()));
  }
}
