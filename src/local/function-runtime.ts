/**
 * A Lambda function run locally from its deployment bundle, as the Lambda Node.js runtime runs it:
 * the code asset of the synthesized cloud assembly, loaded by its handler string (`index.handler` →
 * `index.js`/`index.mjs`/`index.cjs` in the task root, ESM through import()), with the template's
 * environment variables, memory size and timeout.
 *
 * Each execution environment is a worker thread: its own process.env (the template's variables and
 * the ones Lambda sets), its own module instance of the bundle, a heap limited to the memory size,
 * stdout/stderr captured as log events. An invocation that overruns the timeout is a Lambda
 * timeout: the environment is terminated (its code stops, whatever it was doing) and discarded, and
 * the caller gets `Task timed out after N.NN seconds`. A bundle that cannot load fails every
 * invocation with the runtime's error (`Runtime.ImportModuleError: Error: Cannot find package 'x'
 * imported from /var/task/index.mjs`), and the runtime's log lines say so.
 *
 * Every SDK call the function makes goes through `authorize` first (src/aws/client-hooks.ts is the
 * seam: the bundle's client resolver passes each client it builds to the hook this runtime
 * registers); a denial comes back as the service's own AccessDenied HTTP response.
 *
 * Logs: CloudWatch-like events in `<dataDir>/logs/<name>.ndjson`, one log stream per environment,
 * with the platform's START/END/REPORT (and INIT_REPORT on a failed init) lines.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type WriteStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DeniedResponse, SdkCall } from './iam.js';

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

/** Where Lambda puts the code; error messages name it instead of the local asset directory. */
export const TASK_ROOT = '/var/task';

export interface LocalFunctionOptions<E, R> {
  /** Physical function name (from the template). */
  name: string;
  /** File name under logs/: `producer` or `aggregator`. */
  logName: string;
  region: string;
  accountId: string;
  /** The unpacked code asset (the task root). */
  codeDir: string;
  /** The template's handler string, e.g. `index.handler`. */
  handler: string;
  /** The template's runtime, e.g. `nodejs22.x` (AWS_EXECUTION_ENV). */
  runtime: string;
  memoryMiB: number;
  timeoutSeconds: number;
  /** The template's environment variables, resolved. */
  environment: Record<string, string>;
  /**
   * Variables the local runtime adds so the function's clients reach the local servers (endpoint
   * URLs, the local credentials). Lambda sets credentials the same way, from the role.
   */
  runtimeEnvironment: Record<string, string>;
  logsDir: string;
  /** Answers each SDK call: undefined allows it, a response denies it (the local IAM check). */
  authorize?: (call: SdkCall) => DeniedResponse | undefined;
  /**
   * Answers what Lambda does with the role for each environment (CreateLogStream, PutLogEvents):
   * recorded for the permission report; a denial is the caller's to report (AWS drops the logs).
   */
  authorizePlatform?: (call: SdkCall) => DeniedResponse | undefined;
  /** Called after each SDK call the function made succeeded (string members of its input). */
  onCall?: (call: SdkCall) => void;
  /** Test hook: wraps each invocation (the wrapper runs here, the handler in its environment). */
  wrap?: (handler: Handler<E, R>) => Handler<E, R>;
  /** Also called with each log event's message (e.g. `paypipe invoke` prints them). */
  onLog?: (message: string) => void;
  /** Called once per environment whose init failed, with the runtime's error. */
  onInitError?: (e: FunctionError) => void;
  now?: () => number;
}

/** An error the function (or the runtime loading it) returned, as Lambda reports it. */
export class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
    readonly phase: 'init' | 'invoke' = 'invoke',
  ) {
    super(errorMessage);
    this.name = errorType;
  }

  /** What Lambda returns as the payload of a failed invocation. */
  document(): { errorType: string; errorMessage: string; trace: string[] } {
    return { errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace };
  }
}

export class FunctionTimeoutError extends FunctionError {
  constructor(requestId: string, seconds: number) {
    super(
      'Sandbox.Timedout',
      `RequestId: ${requestId} Error: Task timed out after ${seconds.toFixed(2)} seconds`,
    );
  }
}

type FromWorker =
  | { type: 'ready'; initMs: number }
  | { type: 'init-error'; initMs: number; error: ErrorDoc }
  | { type: 'log'; text: string }
  | { type: 'authorize'; id: number; call: SdkCall }
  | { type: 'sent'; call: SdkCall }
  | { type: 'result'; id: string; ok: true; value: unknown }
  | { type: 'result'; id: string; ok: false; error: ErrorDoc };

interface ErrorDoc {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

/**
 * The bootstrap each environment runs (a script, so it needs no file next to the built CLI): the
 * hook that asks the parent about every SDK call, stdout/stderr and console as log lines (console
 * with the runtime's `time\trequestId\tLEVEL\t` prefix), the handler loaded as the Node.js runtime
 * loads it, then invocations on request.
 */
const BOOTSTRAP = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { codeDir, handler: handlerString, taskRoot } = workerData;
const post = (m) => parentPort.postMessage(m);
const asTask = (s) => String(s).split(codeDir).join(taskRoot);
let requestId = 'undefined';
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, enc, cb) => {
    post({ type: 'log', text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8') });
    if (typeof enc === 'function') enc(); else if (typeof cb === 'function') cb();
    return true;
  };
}
for (const [name, level] of [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']]) {
  console[name] = (...args) => post({ type: 'log', text: new Date().toISOString() + '\t' + requestId + '\t' + level + '\t' + util.format(...args) + '\n' });
}
let seq = 0;
const verdicts = new Map();
globalThis[Symbol.for('paypipe.sdk-client-hook')] = (client) => {
  client.middlewareStack.add((next, context) => async (args) => {
    const input = {};
    for (const [k, v] of Object.entries(args.input || {})) if (typeof v === 'string') input[k] = v;
    const id = ++seq;
    const call = { clientName: context.clientName || '', commandName: context.commandName || '', input };
    const denied = await new Promise((resolve) => {
      verdicts.set(id, resolve);
      post({ type: 'authorize', id, call });
    });
    if (denied) return { response: { statusCode: denied.statusCode, headers: denied.headers, body: Buffer.from(denied.body) } };
    const out = await next(args);
    post({ type: 'sent', call });
    return out;
  }, { step: 'deserialize', name: 'paypipeLocalIam', priority: 'low' });
};
const doc = (e) => {
  const err = e instanceof Error ? e : new Error(String(e));
  const stack = asTask(err.stack || '').split('\n');
  return { errorType: err.name || 'Error', errorMessage: asTask(err.message), trace: stack };
};
class RuntimeError extends Error {
  constructor(type, cause) {
    // The runtime's wording: 'Error: Cannot find package …' (name and message, no error code).
    super(asTask(cause instanceof Error ? cause.name + ': ' + cause.message : String(cause)));
    this.name = 'Runtime.' + type;
    this.stack = this.name + ': ' + this.message + '\n' + asTask((cause && cause.stack) || '').split('\n').slice(1).join('\n');
  }
}
async function load() {
  const m = /^([^.]*)\.(.*)$/.exec(path.basename(handlerString));
  if (m === null) throw new RuntimeError('MalformedHandlerName', 'Bad handler');
  const moduleRoot = path.dirname(handlerString);
  const base = path.resolve(codeDir, moduleRoot, m[1]);
  let mod;
  try {
    const type = (() => { try { return JSON.parse(readFileSync(path.join(codeDir, 'package.json'), 'utf8')).type; } catch { return undefined; } })();
    if (existsSync(base + '.js')) mod = type === 'module' ? await import(pathToFileURL(base + '.js').href) : require(base + '.js');
    else if (existsSync(base + '.mjs')) mod = await import(pathToFileURL(base + '.mjs').href);
    else if (existsSync(base + '.cjs')) mod = require(base + '.cjs');
    else {
      const e = new Error("Cannot find module '" + m[1] + "'\nRequire stack:\n- /var/runtime/index.mjs");
      e.code = 'MODULE_NOT_FOUND';
      throw e;
    }
  } catch (e) {
    if (e instanceof SyntaxError) throw new RuntimeError('UserCodeSyntaxError', e);
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) throw new RuntimeError('ImportModuleError', e);
    throw e;
  }
  let fn = mod;
  for (const part of m[2].split('.')) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== 'function') throw new RuntimeError('HandlerNotFound', handlerString + ' is undefined or not exported');
  return fn;
}
const started = performance.now();
load().then((fn) => {
  post({ type: 'ready', initMs: performance.now() - started });
  parentPort.on('message', async (msg) => {
    if (msg.type === 'verdict') { verdicts.get(msg.id)?.(msg.denied); verdicts.delete(msg.id); return; }
    if (msg.type !== 'invoke') return;
    requestId = msg.context.awsRequestId;
    const deadline = msg.deadline;
    const context = { ...msg.context, callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
    try {
      const value = await fn(msg.event, context);
      post({ type: 'result', id: msg.id, ok: true, value: value === undefined ? null : value });
    } catch (e) {
      post({ type: 'result', id: msg.id, ok: false, error: doc(e) });
    }
  });
}, (e) => {
  post({ type: 'init-error', initMs: performance.now() - started, error: doc(e) });
});
`;

interface Environment {
  worker: Worker;
  logStreamName: string;
  /** Settles with the init outcome. */
  ready: Promise<FunctionError | undefined>;
  pending: Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
  exited: boolean;
}

const pad = (n: number): string => String(n).padStart(2, '0');

export class LocalFunction<E, R> {
  readonly arn: string;
  private readonly free: Environment[] = [];
  private readonly all = new Set<Environment>();
  private readonly out: WriteStream;
  private readonly now: () => number;
  invocations = 0;
  errors = 0;
  /** The last init failure (a broken bundle), if any. */
  initError: FunctionError | undefined;

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
    this.o.onLog?.(message);
  }

  /** The variables Lambda sets in every environment, then the template's (which cannot override them). */
  private env(logStreamName: string): Record<string, string> {
    const o = this.o;
    return {
      ...o.environment,
      ...o.runtimeEnvironment,
      AWS_REGION: o.region,
      AWS_DEFAULT_REGION: o.region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${o.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: o.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(o.memoryMiB),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${o.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      LAMBDA_TASK_ROOT: TASK_ROOT,
      LAMBDA_RUNTIME_DIR: '/var/runtime',
      _HANDLER: o.handler,
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin/:/bin',
    };
  }

  private environment(): Environment {
    return this.free.pop() ?? this.startEnvironment();
  }

  private startEnvironment(): Environment {
    const d = new Date(this.now());
    const logStreamName = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      env: this.env(logStreamName),
      workerData: { codeDir: this.o.codeDir, handler: this.o.handler, taskRoot: TASK_ROOT },
      execArgv: [],
      // The memory size bounds the heap, as it bounds the whole environment on Lambda.
      resourceLimits: { maxOldGenerationSizeMb: this.o.memoryMiB },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    for (const op of ['CreateLogStream', 'PutLogEvents']) {
      this.o.authorizePlatform?.({
        clientName: 'CloudWatchLogsClient',
        commandName: `${op}Command`,
        input: { logGroupName: `/aws/lambda/${this.o.name}`, logStreamName },
      });
    }
    const env: Environment = {
      worker,
      logStreamName,
      pending: new Map(),
      exited: false,
      ready: undefined as unknown as Promise<FunctionError | undefined>,
    };
    this.all.add(env);
    let partial = '';
    env.ready = new Promise((settle) => {
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            settle(undefined);
            return;
          case 'init-error': {
            const err = new FunctionError(m.error.errorType, m.error.errorMessage, m.error.trace, 'init');
            // What the runtime prints for an error while loading the handler.
            this.write(
              logStreamName,
              `${new Date(this.now()).toISOString()}\tundefined\tERROR\tUncaught Exception \t${JSON.stringify({ errorType: err.errorType, errorMessage: err.errorMessage, stack: err.trace })}`,
            );
            this.write(
              logStreamName,
              `INIT_REPORT Init Duration: ${m.initMs.toFixed(2)} ms\tPhase: init\tStatus: error\tError Type: ${err.errorType}`,
            );
            this.initError = err;
            this.o.onInitError?.(err);
            settle(err);
            return;
          }
          case 'log': {
            // One log event per line, as Lambda splits stdout.
            const lines = (partial + m.text).split('\n');
            partial = lines.pop() ?? '';
            for (const l of lines) if (l !== '') this.write(logStreamName, l);
            return;
          }
          case 'authorize': {
            const denied = this.o.authorize?.(m.call);
            worker.postMessage({ type: 'verdict', id: m.id, denied });
            return;
          }
          case 'sent':
            this.o.onCall?.(m.call);
            return;
          case 'result': {
            const p = env.pending.get(m.id);
            env.pending.delete(m.id);
            if (m.ok) p?.resolve(m.value);
            else p?.reject(new FunctionError(m.error.errorType, m.error.errorMessage, m.error.trace));
            return;
          }
        }
      });
      worker.on('error', (e) => {
        const oom = (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
        const err = new FunctionError(
          oom ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
          oom ? 'Runtime exited with error: signal: killed' : `Runtime exited with error: ${e.message}`,
        );
        for (const p of env.pending.values()) p.reject(err);
        env.pending.clear();
        settle(err);
      });
      worker.on('exit', (code) => {
        env.exited = true;
        this.all.delete(env);
        const err = new FunctionError('Runtime.ExitError', `Runtime exited with error: exit status ${code}`);
        for (const p of env.pending.values()) p.reject(err);
        env.pending.clear();
        settle(err);
      });
    });
    return env;
  }

  private discard(env: Environment): void {
    this.all.delete(env);
    void env.worker.terminate();
  }

  /** One invocation: START, the function's lines, END, REPORT; the function's error is rethrown. */
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
    const call: Handler<E, R> = async (ev, ctx) => {
      const initError = await env.ready;
      if (initError !== undefined) throw initError;
      const id = randomUUID();
      return new Promise<R>((resolve, reject) => {
        env.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        const { getRemainingTimeInMillis: _, ...plain } = ctx;
        env.worker.postMessage({
          type: 'invoke',
          id,
          event: ev,
          context: plain,
          deadline: Date.now() + ctx.getRemainingTimeInMillis(),
        });
      });
    };
    const handler = this.o.wrap?.(call) ?? call;
    let timer: NodeJS.Timeout | undefined;
    let failed: FunctionError | undefined;
    try {
      return await Promise.race([
        handler(event, context),
        new Promise<never>((_, rej) => {
          timer = setTimeout(
            () => rej(new FunctionTimeoutError(requestId, this.o.timeoutSeconds)),
            this.o.timeoutSeconds * 1000,
          );
        }),
      ]);
    } catch (e) {
      this.errors++;
      failed =
        e instanceof FunctionError
          ? e
          : new FunctionError(
              e instanceof Error ? e.name : 'Error',
              e instanceof Error ? e.message : String(e),
            );
      if (failed instanceof FunctionTimeoutError) {
        this.write(env.logStreamName, `${new Date(this.now()).toISOString()} ${failed.errorMessage}`);
      } else if (failed.phase !== 'init') {
        // What the Node runtime prints for an unhandled handler error.
        this.write(
          env.logStreamName,
          `${new Date(this.now()).toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify({ errorType: failed.errorType, errorMessage: failed.errorMessage, stack: failed.trace })}`,
        );
      }
      throw failed;
    } finally {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const maxUsed = Math.round(process.memoryUsage().rss / 1024 / 1024);
      this.write(env.logStreamName, `END RequestId: ${requestId}`);
      const status =
        failed instanceof FunctionTimeoutError
          ? '\tStatus: timeout'
          : failed?.phase === 'init'
            ? `\tStatus: error\tError Type: ${failed.errorType}`
            : '';
      this.write(
        env.logStreamName,
        `REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(ms))} ms\tMemory Size: ${this.o.memoryMiB} MB\tMax Memory Used: ${Math.min(maxUsed, this.o.memoryMiB)} MB${status}`,
      );
      // Lambda discards an environment whose invocation timed out or whose runtime failed: its
      // code is stopped mid-flight; the next invocation starts a fresh one (init again).
      if (
        failed instanceof FunctionTimeoutError ||
        failed?.phase === 'init' ||
        failed?.errorType.startsWith('Runtime.') === true ||
        env.exited
      ) {
        this.discard(env);
      } else {
        this.free.push(env);
      }
    }
  }

  /**
   * Starts environments ahead of the first invocations (init off the critical path): `n` of them,
   * one per invocation that will run at once (the event source mapping invokes once per shard).
   */
  warm(n = 1): void {
    // environment() would hand back a free one: start fresh ones directly.
    for (let i = this.all.size; i < n; i++) this.free.push(this.startEnvironment());
  }

  /** Stops every environment and flushes the log file. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.all].map((e) => e.worker.terminate()));
    this.all.clear();
    this.free.length = 0;
    await new Promise<void>((res) => this.out.end(() => res()));
  }
}
