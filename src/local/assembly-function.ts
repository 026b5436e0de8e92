/**
 * One function of a cloud assembly, ready to invoke locally: its bundle in execution environments
 * (function-runtime.ts) pointed at the local servers, and its execution role enforced (iam.ts) on
 * the calls its code makes and on what Lambda itself does with the role (the event source mapping's
 * reads, logs). The local pipeline builds both functions with it; `paypipe invoke --local` builds
 * one against a running pipeline — the same runtime either way.
 */
import { join, relative } from 'node:path';
import { LOCAL_CREDENTIALS } from '../aws/clients.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { type FunctionRole, type LocalAssembly, readSynthConfig } from './assembly.js';
import { type FunctionError, type Handler, LocalFunction } from './function-runtime.js';
import { type AccessDenial, RoleChecker, type SdkCall } from './iam.js';
import type { RunningFunction } from './status.js';

export const LOCAL_ACCOUNT = '000000000000';

export interface FunctionIam {
  /** The calls the function's code makes. */
  code: RoleChecker;
  /** What Lambda does with the role: the event source mapping's reads, the function's logs. */
  platform: RoleChecker;
}

export interface AssemblyFunctionOptions<E, R> {
  assembly: LocalAssembly;
  role: FunctionRole;
  /** The run's configuration: a timeout or memory knob that differs from the synthesized one wins. */
  config: PipelineConfig;
  endpoints: { kinesisEndpoint: string; s3Endpoint: string };
  dataDir: string;
  /** The stream the event source mapping reads (its GetRecords name it by iterator only). */
  sourceStreamArn?: string;
  /** A call the role does not allow; `who` says whose (the function, or its mapping). */
  onDenied: (who: string, d: AccessDenial) => void;
  /** A denied log write (on AWS the function runs and its logs are dropped). */
  onLogDenied?: (d: AccessDenial) => void;
  onInitError?: (e: FunctionError) => void;
  wrap?: (h: Handler<E, R>) => Handler<E, R>;
  onCall?: (call: SdkCall) => void;
  /** Also called with each log event the function's environments write. */
  onLog?: (message: string) => void;
  now?: () => number;
}

export interface AssemblyFunction<E, R> {
  fn: LocalFunction<E, R>;
  iam: FunctionIam;
  running: RunningFunction;
}

/** A path as the user would type it from here (absolute when outside the working directory). */
export const relativeToCwd = (p: string): string => {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') || r === '' ? p : r;
};

export function assemblyFunction<E, R>(o: AssemblyFunctionOptions<E, R>): AssemblyFunction<E, R> {
  const { assembly, role, config } = o;
  const f = assembly.functions[role];
  const synthConfig = readSynthConfig(assembly.dir);
  // A run-time knob (a test's short timeout) that differs from the configuration the assembly was
  // synthesized from wins, and the status says so; otherwise the template's values stand.
  const overridden: string[] = [];
  const setting = (key: 'timeoutSeconds' | 'memoryMiB', fromTemplate: number): number => {
    const wanted = config[role][key];
    if (synthConfig !== undefined && synthConfig[role][key] !== wanted && wanted !== fromTemplate) {
      overridden.push(`${key} ${wanted} (template ${fromTemplate})`);
      return wanted;
    }
    return fromTemplate;
  };
  const timeoutSeconds = setting('timeoutSeconds', f.timeoutSeconds);
  const memoryMiB = setting('memoryMiB', f.memoryMiB);
  const running: RunningFunction = {
    functionName: f.functionName,
    handler: f.handler,
    runtime: f.runtime,
    bundleHash: f.bundleHash,
    assetHash: f.assetHash,
    timeoutSeconds,
    memoryMiB,
    ...(overridden.length === 0 ? {} : { overridden }),
  };
  const principal = { roleName: f.executionRole.name, sessionName: f.functionName, accountId: LOCAL_ACCOUNT };
  const scope = { region: config.region, accountId: LOCAL_ACCOUNT };
  const code = new RoleChecker(f.executionRole.statements, principal, scope, (d) =>
    o.onDenied(`the ${role}`, d),
  );
  const platform = new RoleChecker(
    f.executionRole.statements,
    principal,
    o.sourceStreamArn === undefined ? scope : { ...scope, iteratorStreamArn: o.sourceStreamArn },
    (d) => {
      if (d.action.startsWith('logs:')) o.onLogDenied?.(d);
      else o.onDenied(`the ${role}'s event source mapping`, d);
    },
  );
  const fn = new LocalFunction<E, R>({
    name: f.functionName,
    logName: role,
    region: config.region,
    accountId: LOCAL_ACCOUNT,
    codeDir: f.assetDir,
    handler: f.handler,
    runtime: f.runtime,
    memoryMiB,
    timeoutSeconds,
    environment: f.environment,
    runtimeEnvironment: {
      // The seam: the bundle's client resolver honours these like any SDK would.
      AWS_ENDPOINT_URL_KINESIS: o.endpoints.kinesisEndpoint,
      AWS_ENDPOINT_URL_S3: o.endpoints.s3Endpoint,
      // Lambda hands the role's session credentials to the function in these variables.
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // No profile files on Lambda: this machine's must not leak into the function.
      AWS_CONFIG_FILE: join(o.dataDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(o.dataDir, 'no-aws-credentials'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    logsDir: join(o.dataDir, 'logs'),
    authorize: (call) => code.authorize(call),
    authorizePlatform: (call) => platform.authorize(call),
    ...(o.onCall === undefined ? {} : { onCall: o.onCall }),
    ...(o.wrap === undefined ? {} : { wrap: o.wrap }),
    ...(o.onInitError === undefined ? {} : { onInitError: o.onInitError }),
    ...(o.onLog === undefined ? {} : { onLog: o.onLog }),
    ...(o.now === undefined ? {} : { now: o.now }),
  });
  return { fn, iam: { code, platform }, running };
}

/** The fault line for a denied call (the pipeline stops on it; `invoke` reports it). */
export function deniedFault(
  assembly: LocalAssembly,
  role: FunctionRole,
  who: string,
  d: AccessDenial,
): { kind: 'access-denied'; message: string; hint: string } {
  return {
    kind: 'access-denied',
    message: `${who} was denied ${d.action} on ${d.resource}: the execution role ${assembly.functions[role].executionRole.logicalId} in ${relativeToCwd(assembly.templatePath)} does not allow it (AccessDenied, as on AWS)`,
    hint: `grant ${d.action} to the ${role}'s role in src/infra/pipeline-stack.ts (or stop calling it), then run again`,
  };
}

/** The fault line for a bundle that cannot start. */
export function initFault(
  assembly: LocalAssembly,
  role: FunctionRole,
  e: FunctionError,
): { kind: 'function-init'; message: string; hint: string } {
  const f = assembly.functions[role];
  return {
    kind: 'function-init',
    message: `the ${role} (${f.functionName}) failed to start: ${e.errorType}: ${e.errorMessage}`,
    hint: `its bundle ${relativeToCwd(f.assetDir)} is what a deploy would upload, and Lambda would fail the same way; see \`paypipe logs --local ${role}\``,
  };
}
