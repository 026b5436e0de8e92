/**
 * A synthesized cloud assembly (what `paypipe synth` writes and `paypipe deploy` uploads), read the
 * way CloudFormation and Lambda would use it locally: each function's bundle directory, handler
 * string, runtime, memory, timeout and environment, and its execution role's policies, with every
 * intrinsic (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, …) resolved to the local pipeline's physical names
 * and ARNs (account 000000000000). Nothing here synthesizes: the CLI does (src/cli/local-assembly.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PipelineConfig } from '../pipeline/config.js';
import { PaypipeError } from '../errors.js';

export type FunctionRole = 'producer' | 'aggregator';

/** One IAM policy statement with every intrinsic resolved. */
export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
}

export interface AssemblyFunction {
  role: FunctionRole;
  logicalId: string;
  functionName: string;
  /** `index.handler`: module `index` in the bundle directory, export `handler`. */
  handler: string;
  runtime: string;
  memoryMiB: number;
  timeoutSeconds: number;
  /** The template's environment variables, resolved to local names. */
  environment: Record<string, string>;
  /** Absolute path of the unpacked code asset (`asset.<hash>`). */
  assetDir: string;
  /** The asset hash CDK gave the code (what the template's S3Key names). */
  assetHash: string;
  /** sha256 of the bundle's files (name and bytes, sorted): what actually runs. */
  bundleHash: string;
  /** Its execution role: logical id, local ARN, and every statement of its identity policies. */
  executionRole: { logicalId: string; name: string; arn: string; statements: PolicyStatement[] };
}

export interface LocalAssembly {
  dir: string;
  templatePath: string;
  stackName: string;
  functions: Record<FunctionRole, AssemblyFunction>;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}
interface Template {
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, { Value: Json }>;
}

/** Which stack output names which function, and which local bucket each bucket output is. */
const FUNCTION_OUTPUTS: Record<FunctionRole, string> = {
  producer: 'ProducerFunctionName',
  aggregator: 'AggregatorFunctionName',
};

const badAssembly = (dir: string, what: string): PaypipeError =>
  new PaypipeError('DATA', `the cloud assembly ${dir} ${what}`, {
    hint: 'synthesize it again with `paypipe synth` (or remove it: the local pipeline synthesizes its own)',
  });

/** The stack's template file in an assembly directory (from manifest.json). */
export function templateOf(dir: string, stackName: string): string {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw badAssembly(dir, 'has no manifest.json (is it a cloud assembly?)');
  let manifest: { artifacts?: Record<string, { type?: string; properties?: Record<string, unknown> }> };
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as typeof manifest;
  } catch (e) {
    throw badAssembly(dir, `has a manifest.json that is not JSON (${(e as Error).message})`);
  }
  for (const [id, a] of Object.entries(manifest.artifacts ?? {})) {
    if (a.type !== 'aws:cloudformation:stack') continue;
    const name = (a.properties?.stackName as string | undefined) ?? id;
    const file = a.properties?.templateFile;
    if (name === stackName && typeof file === 'string') return join(dir, file);
  }
  throw badAssembly(dir, `has no stack named ${stackName}`);
}

/** sha256 over a directory's files (relative name and bytes, sorted): the running code's identity. */
export function hashDirectory(dir: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else {
        h.update(`${r}\0${st.size}\0`);
        h.update(readFileSync(join(dir, r)));
      }
    }
  };
  walk('');
  return h.digest('hex');
}

export interface ResolveContext {
  region: string;
  accountId: string;
  config: PipelineConfig;
}

/**
 * Reads the paypipe stack from a cloud assembly: both functions, resolved for the local pipeline.
 * Throws a DATA error naming what is missing when the assembly is not a paypipe stack.
 */
export function readAssembly(dirIn: string, ctx: ResolveContext): LocalAssembly {
  const dir = resolve(dirIn);
  const stackName = ctx.config.stackName;
  const templatePath = templateOf(dir, stackName);
  let template: Template;
  try {
    template = JSON.parse(readFileSync(templatePath, 'utf8')) as Template;
  } catch (e) {
    throw badAssembly(dir, `has a template that cannot be read (${(e as Error).message})`);
  }
  const resolver = new Resolver(template, ctx);
  const resources = template.Resources ?? {};
  const fn = (role: FunctionRole): AssemblyFunction => {
    const out = template.Outputs?.[FUNCTION_OUTPUTS[role]]?.Value;
    const logicalId = isRef(out) ? out.Ref : undefined;
    const r = logicalId === undefined ? undefined : resources[logicalId];
    if (logicalId === undefined || r?.Type !== 'AWS::Lambda::Function') {
      throw badAssembly(dir, `has no ${role} function (output ${FUNCTION_OUTPUTS[role]})`);
    }
    const p = r.Properties ?? {};
    const assetPath = r.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') throw badAssembly(dir, `names no code asset for ${logicalId}`);
    const assetDir = join(dir, assetPath);
    if (!existsSync(assetDir)) throw badAssembly(dir, `lacks the ${role} code asset ${assetPath}`);
    const vars = (p.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ?? {};
    const environment: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars)) environment[k] = String(resolver.value(v));
    const roleRef = p.Role as Json;
    const roleId = isGetAtt(roleRef) ? getAttParts(roleRef)[0] : undefined;
    if (roleId === undefined) throw badAssembly(dir, `gives ${logicalId} a role it does not define`);
    return {
      role,
      logicalId,
      functionName: String(resolver.ref(logicalId)),
      handler: String(p.Handler ?? 'index.handler'),
      runtime: String(p.Runtime ?? ''),
      memoryMiB: Number(p.MemorySize ?? 128),
      timeoutSeconds: Number(p.Timeout ?? 3),
      environment,
      assetDir,
      assetHash: assetPath.replace(/^asset\./, ''),
      bundleHash: hashDirectory(assetDir),
      executionRole: {
        logicalId: roleId,
        name: String(resolver.ref(roleId)),
        arn: String(resolver.getAtt(roleId, 'Arn')),
        statements: roleStatements(template, roleId, resolver),
      },
    };
  };
  return {
    dir,
    templatePath,
    stackName,
    functions: { producer: fn('producer'), aggregator: fn('aggregator') },
  };
}

/** Every statement of the identity policies attached to a role (inline and AWS::IAM::Policy). */
function roleStatements(template: Template, roleId: string, resolver: Resolver): PolicyStatement[] {
  const docs: Json[] = [];
  const resources = template.Resources ?? {};
  const role = resources[roleId];
  for (const p of (role?.Properties?.Policies as Array<{ PolicyDocument: Json }> | undefined) ?? []) {
    docs.push(p.PolicyDocument);
  }
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = (r.Properties?.Roles as Json[] | undefined) ?? [];
    if (roles.some((x) => isRef(x) && x.Ref === roleId)) docs.push(r.Properties?.PolicyDocument ?? null);
  }
  const managed = (role?.Properties?.ManagedPolicyArns as Json[] | undefined) ?? [];
  if (managed.length > 0) {
    // An AWS managed policy's text is not in the template: granting nothing locally is the
    // conservative reading (a call it would allow fails here and is noticed).
    docs.push({ Statement: [] });
  }
  const out: PolicyStatement[] = [];
  for (const d of docs) {
    const resolved = resolver.value(d) as { Statement?: PolicyStatement | PolicyStatement[] } | null;
    const st = resolved?.Statement;
    if (st === undefined) continue;
    out.push(...(Array.isArray(st) ? st : [st]));
  }
  return out;
}

const isRef = (v: unknown): v is { Ref: string } =>
  typeof v === 'object' && v !== null && typeof (v as { Ref?: unknown }).Ref === 'string';
const isGetAtt = (v: unknown): v is { 'Fn::GetAtt': Json } =>
  typeof v === 'object' && v !== null && 'Fn::GetAtt' in v;
const getAttParts = (v: { 'Fn::GetAtt': Json }): [string, string] => {
  const g = v['Fn::GetAtt'];
  if (typeof g === 'string') {
    const i = g.indexOf('.');
    return [g.slice(0, i), g.slice(i + 1)];
  }
  const [a, b] = g as [string, string];
  return [a, b];
};

/**
 * CloudFormation's intrinsics over one template, with the local pipeline's physical names: streams,
 * functions and queues by their name properties, the two data buckets by the stack outputs that
 * name them (the config's local bucket names), pseudo parameters for the local account.
 */
class Resolver {
  private readonly resources: Record<string, Resource>;
  private readonly bucketNames = new Map<string, string>();

  constructor(
    template: Template,
    private readonly ctx: ResolveContext,
  ) {
    this.resources = template.Resources ?? {};
    const outputs = template.Outputs ?? {};
    for (const [key, local] of [
      ['RawBucketName', ctx.config.buckets.raw],
      ['AnalyticsBucketName', ctx.config.buckets.analytics],
    ] as const) {
      const v = outputs[key]?.Value;
      if (isRef(v)) this.bucketNames.set(v.Ref, local);
    }
  }

  private pseudo(name: string): string | undefined {
    switch (name) {
      case 'AWS::Region':
        return this.ctx.region;
      case 'AWS::AccountId':
        return this.ctx.accountId;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.ctx.config.stackName;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${this.ctx.region}:${this.ctx.accountId}:stack/${this.ctx.config.stackName}/local`;
      default:
        return undefined;
    }
  }

  ref(id: string): string {
    const p = this.pseudo(id);
    if (p !== undefined) return p;
    const r = this.resources[id];
    const props = r?.Properties ?? {};
    const named = (key: string): string | undefined => {
      const v = props[key];
      return v === undefined ? undefined : String(this.value(v));
    };
    switch (r?.Type) {
      case 'AWS::Kinesis::Stream':
        return named('Name') ?? id;
      case 'AWS::S3::Bucket':
        return named('BucketName') ?? this.bucketNames.get(id) ?? id.toLowerCase();
      case 'AWS::Lambda::Function':
        return named('FunctionName') ?? id;
      case 'AWS::SQS::Queue':
        return `http://sqs.${this.ctx.region}.localhost/${this.ctx.accountId}/${named('QueueName') ?? id}`;
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName') ?? id;
      case 'AWS::Logs::LogStream':
        return named('LogStreamName') ?? id;
      case 'AWS::KinesisFirehose::DeliveryStream':
        return named('DeliveryStreamName') ?? id;
      case 'AWS::KMS::Key':
        return `local-${id.toLowerCase()}`;
      default:
        return id;
    }
  }

  getAtt(id: string, attr: string): string {
    const r = this.resources[id];
    const { region, accountId } = this.ctx;
    const name = this.ref(id);
    if (attr !== 'Arn') return `${name}.${attr}`;
    switch (r?.Type) {
      case 'AWS::Kinesis::Stream':
        return `arn:aws:kinesis:${region}:${accountId}:stream/${name}`;
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${name}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${region}:${accountId}:${name.slice(name.lastIndexOf('/') + 1)}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${region}:${accountId}:log-group:${name}:*`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${accountId}:role/${name}`;
      case 'AWS::KMS::Key':
        return `arn:aws:kms:${region}:${accountId}:key/${name}`;
      case 'AWS::KinesisFirehose::DeliveryStream':
        return `arn:aws:firehose:${region}:${accountId}:deliverystream/${name}`;
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${region}:${accountId}:${id}`;
      default:
        return `arn:aws:local:${region}:${accountId}:${id}`;
    }
  }

  value(v: Json): Json {
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const k = keys[0] as string;
      const arg = v[k] as Json;
      switch (k) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = getAttParts(v as { 'Fn::GetAtt': Json });
          return this.getAtt(id, attr);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, Json[]];
          return (this.value(parts) as Json[]).map(String).join(sep);
        }
        case 'Fn::Select': {
          const [i, list] = arg as [Json, Json];
          return ((this.value(list) as Json[])[Number(this.value(i))] ?? null) as Json;
        }
        case 'Fn::Split': {
          const [sep, s] = arg as [string, Json];
          return String(this.value(s)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, Json>]);
          return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
            if (name in vars) return String(this.value(vars[name] as Json));
            const dot = name.indexOf('.');
            return dot < 0 ? this.ref(name) : this.getAtt(name.slice(0, dot), name.slice(dot + 1));
          });
        }
        default:
          break;
      }
    }
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) out[k] = this.value(x);
    return out;
  }
}

/**
 * The configuration a cached assembly was synthesized from (written next to it by the CLI's
 * cache), or undefined for any other assembly (e.g. `paypipe synth`'s cdk.out).
 */
export const SYNTH_CONFIG_FILE = 'paypipe-synth-config.json';

export function readSynthConfig(dir: string): PipelineConfig | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, SYNTH_CONFIG_FILE), 'utf8')) as PipelineConfig;
  } catch {
    return undefined;
  }
}
