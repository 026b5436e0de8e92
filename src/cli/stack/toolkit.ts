/**
 * The glue between @aws-cdk/toolkit-lib (in-process CDK: synth, diff, deploy, destroy) and the
 * paypipe io layer. The toolkit reports everything as structured messages to an IoHost; this one
 * turns them into a spinner on a TTY (plain lines otherwise, always stderr), answers the toolkit's
 * questions from the command's flags, and translates the toolkit's errors into one-line
 * PaypipeErrors. Heavy: only ever loaded lazily from a command's action.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BaseCredentials,
  type ICloudAssemblySource,
  type IIoHost,
  type IoMessage,
  type IoRequest,
  MemoryContext,
  type StackSelector,
  StackSelectionStrategy,
  Toolkit,
  ToolkitError,
} from '@aws-cdk/toolkit-lib';
import type { PipelineConfig } from '../../pipeline/config.js';
import { PaypipeError, isPaypipeError } from '../../errors.js';
import { buildApp } from '../../infra/app.js';
import type { LambdaEntries } from '../../infra/paths.js';
import type { PaypipeStack } from '../../infra/pipeline-stack.js';
import type { Io, Spinner } from '../io.js';
import type { InfraTarget } from './target.js';

export const stackSelector = (stackName: string): StackSelector => ({
  strategy: StackSelectionStrategy.PATTERN_MUST_MATCH_SINGLE,
  patterns: [stackName],
});

// ------------------------------------------------------------------ io host

export type RequireApproval = 'never' | 'broadening';

export interface HostOptions {
  /** How to answer the toolkit's "deploy these security-relevant changes?" question. */
  requireApproval?: RequireApproval;
  /** Asks the user on a TTY; undefined when there is no TTY to ask on. */
  confirm?: ((question: string) => Promise<boolean>) | undefined;
}

interface PolicyViolation {
  ruleName: string;
  severity?: string;
  violatingConstructs?: Array<{ constructPath?: string }>;
  violatingResources?: Array<{ constructPath?: string; resourceLogicalId?: string }>;
}
interface PluginReport {
  pluginName: string;
  conclusion?: string;
  violations: PolicyViolation[];
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const plain = (s: string): string => s.replace(ANSI, '').trim();

/**
 * Renders toolkit messages through Io. Collects what the commands need afterwards: the validation
 * report of a failed synth, per-stack diff texts, the last deployment error line.
 */
export class PaypipeIoHost implements IIoHost {
  spinner: Spinner | undefined;
  /** Plugin reports from a failed policy validation (cdk-nag), if any. */
  validationReports: PluginReport[] | undefined;
  /** Human-readable diff per stack name, from CDK_TOOLKIT_I4002. */
  readonly diffTexts = new Map<string, string>();
  /** Resource failures seen during a deployment, for the final error line. */
  readonly failures: string[] = [];
  /** Per stack: true when the toolkit skipped the deployment because nothing changed. */
  readonly deployNoOp = new Map<string, boolean>();
  /** An approval that could not be asked for (no TTY). */
  approvalRefused: string | undefined;
  private lastLine = '';

  constructor(
    private readonly io: Io,
    private readonly opts: HostOptions = {},
  ) {}

  /** Progress: the spinner's text on a TTY, a plain stderr line otherwise (deduplicated). */
  progress(text: string): void {
    if (this.spinner !== undefined && this.io.interactive) {
      this.spinner.update(text);
      return;
    }
    if (text !== this.lastLine) this.io.info(text);
    this.lastLine = text;
  }

  async notify(msg: IoMessage<unknown>): Promise<void> {
    const text = plain(msg.message);
    switch (msg.code) {
      case 'CDK_TOOLKIT_E9600': {
        const data = msg.data as { pluginReports?: PluginReport[] } | undefined;
        this.validationReports = data?.pluginReports ?? [];
        this.io.debugLog(text);
        return;
      }
      case 'CDK_TOOLKIT_I4002': {
        const data = msg.data as { stack?: { stackName?: string }; stackName?: string } | undefined;
        const name = data?.stack?.stackName ?? data?.stackName ?? '';
        this.diffTexts.set(name, text);
        return;
      }
      case 'CDK_TOOLKIT_I5502':
      case 'CDK_TOOLKIT_I6100': {
        this.activity(msg.data as Activity);
        return;
      }
      case 'CDK_TOOLKIT_I5900': {
        // The per-stack deploy result; `noOp` is not carried into toolkit.deploy()'s return value.
        const data = msg.data as { noOp?: boolean; stackArn?: string } | undefined;
        const name = /:stack\/([^/]+)\//.exec(data?.stackArn ?? '')?.[1];
        if (name !== undefined) this.deployNoOp.set(name, data?.noOp === true);
        this.io.debugLog(text);
        return;
      }
      case 'CDK_TOOLKIT_I5100':
        this.progress(
          `deploying ${(msg.data as { stack?: { stackName?: string } }).stack?.stackName ?? ''}…`,
        );
        return;
      case 'CDK_TOOLKIT_I7100':
        this.progress(
          `destroying ${(msg.data as { stack?: { stackName?: string } }).stack?.stackName ?? ''}…`,
        );
        return;
      case 'CDK_ASSETS_I5270':
        this.progress('publishing Lambda code and template assets…');
        return;
      case 'CDK_TOOLKIT_I9100':
        this.progress(text === '' ? 'bootstrapping…' : text);
        return;
      default:
        break;
    }
    if (text === '') return;
    if (msg.level === 'error') {
      this.failures.push(text.split('\n')[0] ?? text);
      this.io.debugLog(text);
    } else if (msg.level === 'warn') {
      // The toolkit's warnings are worth seeing (drift, empty stacks, express mode…).
      this.io.warn(text.split('\n')[0] ?? text);
    } else {
      this.io.debugLog(`${msg.code ?? msg.level}: ${text}`);
    }
  }

  private activity(a: Activity): void {
    const e = a?.event;
    if (e === undefined) return;
    const status = e.ResourceStatus ?? '';
    const progress = a.progress?.total !== undefined ? ` [${a.progress.completed}/${a.progress.total}]` : '';
    const line = `${e.LogicalResourceId ?? ''} ${e.ResourceType ?? ''} ${status}${progress}`;
    if (status.endsWith('_FAILED')) {
      const reason = plain(e.ResourceStatusReason ?? '');
      // Cancelled siblings are noise; the first real reason is what the user needs.
      if (!/Resource creation cancelled|Resource update cancelled/.test(reason)) {
        this.failures.push(`${e.LogicalResourceId ?? '?'} (${e.ResourceType ?? '?'}): ${reason}`);
        this.io.warn(`${e.LogicalResourceId} ${status}: ${reason}`);
      }
      return;
    }
    this.progress(line);
  }

  async requestResponse<T>(msg: IoRequest<unknown, T>): Promise<T> {
    switch (msg.code) {
      case 'CDK_TOOLKIT_I5060': {
        const data = msg.data as { permissionChangeType?: string } | undefined;
        const broadening = data?.permissionChangeType === 'broadening';
        if (!broadening || (this.opts.requireApproval ?? 'broadening') === 'never') return true as T;
        if (this.opts.confirm === undefined) {
          this.approvalRefused = 'the deployment broadens IAM permissions and needs approval';
          return false as T;
        }
        this.spinner?.stop();
        this.io.info(
          plain(msg.message)
            .replace(/Do you wish to deploy these changes\?$/, '')
            .trimEnd(),
        );
        const ok = await this.opts.confirm('Deploy these IAM changes?');
        if (!ok) this.approvalRefused = 'the IAM changes were not approved';
        return ok as T;
      }
      // paypipe destroy asks (or is forced) before it calls the toolkit.
      case 'CDK_TOOLKIT_I7010':
        return true as T;
      default:
        await this.notify(msg);
        return msg.defaultResponse;
    }
  }
}

interface Activity {
  event?: {
    LogicalResourceId?: string;
    ResourceType?: string;
    ResourceStatus?: string;
    ResourceStatusReason?: string;
  };
  progress?: { completed: number; total?: number };
}

// ------------------------------------------------------------------ toolkit and assembly

export interface ToolkitSetup {
  toolkit: Toolkit;
  host: PaypipeIoHost;
}

export function makeToolkit(io: Io, target: InfraTarget, opts: HostOptions = {}): ToolkitSetup {
  // The toolkit library itself shows no notices and sends no telemetry; these keep any CDK code
  // it loads (and child processes) quiet and offline as well.
  process.env.CDK_DISABLE_VERSION_CHECK ??= 'true';
  process.env.CDK_DISABLE_CLI_TELEMETRY ??= 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Lambda bundling runs the local esbuild through `npx --no-install`; no npm update notices.
  process.env.NPM_CONFIG_UPDATE_NOTIFIER ??= 'false';
  const host = new PaypipeIoHost(io, opts);
  const toolkit = new Toolkit({
    ioHost: host,
    emojis: false,
    color: false,
    sdkConfig: {
      baseCredentials: BaseCredentials.awsCliCompatible({
        ...(target.profile === undefined ? {} : { profile: target.profile }),
        defaultRegion: target.region,
      }),
    },
  });
  return { toolkit, host };
}

/** What the assembly is for: cdk-nag gates only what creates or changes resources. */
export type AssemblyPurpose = 'synth' | 'deploy' | 'diff' | 'destroy';

export interface SourceOptions {
  /** Cloud assembly directory; default a temporary one that is removed after use. */
  outdir?: string;
  /** Skip Lambda bundling (destroy needs the stack's identity only, not its code). */
  skipBundling?: boolean;
  /**
   * synth and deploy run cdk-nag (and CDK's template validation); diff and destroy never do: a new
   * rule in a cdk-nag release must not stop anyone from seeing what would change or tearing down.
   */
  purpose: AssemblyPurpose;
  /** Tests: other Lambda entries, or a change to the stack before synthesis. */
  entries?: LambdaEntries;
  customize?: (stack: PaypipeStack) => void;
}

/** Whether an assembly for this purpose is validated (cdk-nag, CloudFormation template checks). */
export const validates = (purpose: AssemblyPurpose): boolean => purpose === 'synth' || purpose === 'deploy';

/** The paypipe app as a toolkit assembly source: in-process, offline (no lookups, no STS). */
export async function assemblySource(
  toolkit: Toolkit,
  config: PipelineConfig,
  opts: SourceOptions,
): Promise<ICloudAssemblySource> {
  const outdir = opts.outdir ?? mkdtempSync(join(tmpdir(), 'paypipe-cdk-'));
  return toolkit.fromAssemblyBuilder(
    async (props) => {
      const context: Record<string, unknown> = { ...props.context };
      if (opts.skipBundling === true) context['aws:cdk:bundling-stacks'] = [];
      const { app, stack } = buildApp(config, {
        outdir: props.outdir ?? outdir,
        context,
        validation: validates(opts.purpose),
        ...(opts.entries === undefined ? {} : { entries: opts.entries }),
      });
      opts.customize?.(stack);
      return app.synth();
    },
    {
      outdir,
      disposeOutdir: opts.outdir === undefined,
      lookups: false,
      resolveDefaultEnvironment: false,
      contextStore: new MemoryContext(),
      clobberEnv: false,
    },
  );
}

// ------------------------------------------------------------------ errors

/** Turns whatever the toolkit (or the app inside it) threw into one PaypipeError. */
export function translateError(
  err: unknown,
  host: PaypipeIoHost,
  target: InfraTarget,
  action: string,
): PaypipeError {
  const own = findCause(err, isPaypipeError);
  if (own !== undefined) return own;
  if (host.approvalRefused !== undefined) {
    return new PaypipeError('USAGE', `deploy stopped: ${host.approvalRefused}`, {
      hint: 'review the changes with `paypipe diff`, then deploy on a terminal or pass --require-approval never',
    });
  }
  if (host.validationReports !== undefined && host.validationReports.length > 0) {
    return validationError(host.validationReports);
  }
  const message = errorText(err);
  if (/Unable to resolve AWS account/i.test(message)) {
    // The stack leaves the account to the credentials; STS GetCallerIdentity did not answer.
    return new PaypipeError(
      'NO_CREDENTIALS',
      `${action} could not determine the AWS account from the credentials (STS GetCallerIdentity failed in ${target.region})`,
      {
        hint: 'check the credentials and the network with `aws sts get-caller-identity`, refresh them (`aws sso login`, new keys) or pass another --profile',
        cause: err,
      },
    );
  }
  if (ToolkitError.isAuthenticationError(err) || /credential|ExpiredToken|security token/i.test(message)) {
    return new PaypipeError('NO_CREDENTIALS', `${action} could not use the AWS credentials: ${message}`, {
      hint: 'check them and the network with `aws sts get-caller-identity`, refresh them (`aws sso login`, new keys) or pass another --profile',
      cause: err,
    });
  }
  if (ToolkitError.isBootstrapError(err) || /bootstrap/i.test(message)) {
    return new PaypipeError('AWS', `${target.region} is not ready for CDK deployments: ${message}`, {
      hint: `run \`paypipe deploy --bootstrap --region ${target.region}\` once per account and region`,
      cause: err,
    });
  }
  if (/TerminationProtection|termination protection/i.test(message)) {
    return new PaypipeError(
      'CHECK_FAILED',
      `${target.stackName} in ${target.region} has termination protection, so it cannot be ${action === 'destroy' ? 'destroyed' : 'changed that way'}`,
      {
        hint: `set "terminationProtection": false in the "${target.config.environment}" section of paypipe.config.json, run \`paypipe deploy --env ${target.config.environment}\`, then destroy`,
        cause: err,
      },
    );
  }
  if (ToolkitError.isAbortError(err)) {
    return new PaypipeError('USAGE', `${action} cancelled: ${message}`, { cause: err });
  }
  const failure = host.failures[0];
  return new PaypipeError(
    'AWS',
    `${action} of ${target.stackName} in ${target.region} failed: ${failure ?? message}`,
    {
      hint:
        failure === undefined
          ? 'run again with --debug for the toolkit messages'
          : 'fix the cause above; the stack was rolled back to its previous state',
      cause: err,
      details: { failures: host.failures },
    },
  );
}

export function validationError(reports: readonly PluginReport[]): PaypipeError {
  const findings: string[] = [];
  for (const r of reports) {
    for (const v of r.violations) {
      const paths = [
        ...(v.violatingConstructs ?? []).map((c) => c.constructPath),
        ...(v.violatingResources ?? []).map((c) => c.constructPath ?? c.resourceLogicalId),
      ].filter((p): p is string => p !== undefined);
      for (const p of paths.length > 0 ? paths : ['?']) findings.push(`${v.ruleName} at ${p}`);
    }
  }
  const shown = findings.slice(0, 3).join('; ');
  const more = findings.length > 3 ? `; and ${findings.length - 3} more` : '';
  return new PaypipeError(
    'CHECK_FAILED',
    `synthesis failed policy validation with ${findings.length} finding${findings.length === 1 ? '' : 's'} neither fixed nor acknowledged: ${shown}${more}`,
    {
      hint: 'fix them, or acknowledge each one with a reason in src/infra/pipeline-stack.ts and docs/infra.md (run with --debug for the full report)',
      details: { findings },
    },
  );
}

function findCause<T>(err: unknown, pred: (e: unknown) => e is T): T | undefined {
  let e: unknown = err;
  for (let i = 0; i < 10 && e !== undefined && e !== null; i++) {
    if (pred(e)) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return plain(msg.split('\n').find((l) => l.trim() !== '') ?? msg);
}
