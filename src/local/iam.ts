/**
 * IAM, locally: every SDK call a local function makes is checked against the identity policies the
 * template attaches to the function's execution role, as IAM would (an explicit Deny wins, else an
 * Allow whose Action, Resource and Condition all match, else denied), and a call the role does not
 * allow gets the answer AWS gives: `AccessDeniedException` (Kinesis, JSON protocol) or
 * `AccessDenied` (S3, XML), with AWS's message, parsed by the SDK's own deserializer.
 *
 * The adversary is a stack change that drops or narrows a grant the code needs (or code that starts
 * calling something new): on AWS that is an AccessDenied only in the account; here it fails the
 * local pipeline at once. What is not emulated: resource policies (bucket and key policies are
 * checked by the services, which the local servers are not), SCPs and permission boundaries.
 */
import { randomUUID } from 'node:crypto';
import type { DeniedHttpResponse, ObservedCall } from '../aws/client-hooks.js';
import { PaypipeError } from '../errors.js';
import type { PolicyStatement } from './assembly.js';

/** One authorization question: an action on a resource, with the request's condition keys. */
export interface AuthzRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}

export type Decision =
  | { allowed: true; statement: PolicyStatement }
  | { allowed: false; explicit: boolean; statement?: PolicyStatement };

const list = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : [v];

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
export function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  const re = new RegExp(
    `^${p
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return re.test(v);
}

const matchAny = (patterns: string[], value: string, ignoreCase: boolean): boolean =>
  patterns.some((p) => wildcard(p, value, ignoreCase));

/** The condition operators the policy engine implements; any other fails loudly, never silently. */
function conditionHolds(op: string, key: string, wanted: unknown, ctx: Record<string, string>): boolean {
  const ifExists = op.endsWith('IfExists');
  const base = ifExists ? op.slice(0, -'IfExists'.length) : op;
  const actual = ctx[key];
  const values = (Array.isArray(wanted) ? wanted : [wanted]).map(String);
  if (base === 'Null') {
    const isNull = actual === undefined;
    return values.some((w) => (w === 'true') === isNull);
  }
  if (actual === undefined) return ifExists || base.startsWith('StringNot') || base.startsWith('ArnNot');
  switch (base) {
    case 'StringEquals':
    case 'ArnEquals':
      return values.includes(actual);
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return !values.includes(actual);
    case 'StringEqualsIgnoreCase':
      return values.some((w) => w.toLowerCase() === actual.toLowerCase());
    case 'StringNotEqualsIgnoreCase':
      return !values.some((w) => w.toLowerCase() === actual.toLowerCase());
    case 'StringLike':
    case 'ArnLike':
      return values.some((w) => wildcard(w, actual));
    case 'StringNotLike':
    case 'ArnNotLike':
      return !values.some((w) => wildcard(w, actual));
    case 'Bool':
      return values.some((w) => w.toLowerCase() === actual.toLowerCase());
    case 'NumericEquals':
      return values.some((w) => Number(actual) === Number(w));
    case 'NumericLessThan':
      return values.some((w) => Number(actual) < Number(w));
    case 'NumericLessThanEquals':
      return values.some((w) => Number(actual) <= Number(w));
    case 'NumericGreaterThan':
      return values.some((w) => Number(actual) > Number(w));
    case 'NumericGreaterThanEquals':
      return values.some((w) => Number(actual) >= Number(w));
    default:
      throw new PaypipeError(
        'INTERNAL',
        `the local IAM check does not implement the condition operator ${op}`,
        {
          hint: 'add it to src/local/iam.ts (conditionHolds) before relying on it in the stack',
        },
      );
  }
}

function statementMatches(s: PolicyStatement, r: AuthzRequest): boolean {
  const actions = list(s.Action);
  const notActions = list(s.NotAction);
  if (actions !== undefined && !matchAny(actions, r.action, true)) return false;
  if (notActions !== undefined && matchAny(notActions, r.action, true)) return false;
  const resources = list(s.Resource);
  const notResources = list(s.NotResource);
  if (resources !== undefined && !matchAny(resources, r.resource, false)) return false;
  if (notResources !== undefined && matchAny(notResources, r.resource, false)) return false;
  for (const [op, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, wanted] of Object.entries(keys)) {
      if (!conditionHolds(op, key, wanted, r.context)) return false;
    }
  }
  return true;
}

/** IAM's evaluation of identity policies: explicit Deny, then Allow, else the implicit deny. */
export function evaluate(statements: readonly PolicyStatement[], r: AuthzRequest): Decision {
  let allow: PolicyStatement | undefined;
  for (const s of statements) {
    if (!statementMatches(s, r)) continue;
    if (s.Effect === 'Deny') return { allowed: false, explicit: true, statement: s };
    allow ??= s;
  }
  return allow === undefined ? { allowed: false, explicit: false } : { allowed: true, statement: allow };
}

/** Every action a role's Allow statements name (wildcards as written). */
export function grantedActions(statements: readonly PolicyStatement[]): string[] {
  const out = new Set<string>();
  for (const s of statements) {
    if (s.Effect !== 'Allow') continue;
    for (const a of list(s.Action) ?? []) out.add(a);
  }
  return [...out].sort();
}

// ------------------------------------------------------------------ SDK calls → IAM requests

/** What the runtime's SDK middleware reports of one call (string members of the input only). */
export type SdkCall = ObservedCall;

export interface CallScope {
  region: string;
  accountId: string;
  /**
   * The stream a Kinesis call names only through a shard iterator (GetRecords): the event source
   * mapping reads one stream, so its checker is told which.
   */
  iteratorStreamArn?: string;
}

/** S3 operations whose IAM action is not `s3:<Operation>` (the service authorization reference). */
const S3_ACTIONS: Record<string, string> = {
  HeadObject: 's3:GetObject',
  GetObjectAttributes: 's3:GetObject',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  ListObjectVersions: 's3:ListBucketVersions',
  HeadBucket: 's3:ListBucket',
  DeleteObjects: 's3:DeleteObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
  ListParts: 's3:ListMultipartUploadParts',
  ListBuckets: 's3:ListAllMyBuckets',
};

/** The service prefix of an SDK client (`KinesisClient` → `kinesis`, `CloudWatchLogsClient` → `logs`). */
const serviceOf = (clientName: string): string => {
  const s = clientName.replace(/Client$/, '').toLowerCase();
  return s === 'cloudwatchlogs' ? 'logs' : s;
};

/** The IAM requests one SDK call makes (one, except S3 CopyObject: read the source, write the copy). */
export function requestsFor(call: SdkCall, scope: CallScope): AuthzRequest[] {
  const op = call.commandName.replace(/Command$/, '');
  const service = serviceOf(call.clientName);
  const { region, accountId } = scope;
  const context: Record<string, string> = {
    // The SDK talks HTTPS to AWS; the local servers' plain HTTP is not what a policy sees there.
    'aws:SecureTransport': 'true',
    'aws:RequestedRegion': region,
    'aws:PrincipalAccount': accountId,
  };
  const i = call.input;
  if (service === 'kinesis') {
    const arn =
      i.StreamARN ??
      (i.StreamName === undefined
        ? (scope.iteratorStreamArn ?? '*')
        : `arn:aws:kinesis:${region}:${accountId}:stream/${i.StreamName}`);
    return [{ action: `kinesis:${op}`, resource: arn, context }];
  }
  if (service === 's3') {
    const action = S3_ACTIONS[op] ?? `s3:${op}`;
    if (op === 'ListBuckets') return [{ action, resource: '*', context }];
    const bucketArn = `arn:aws:s3:::${i.Bucket ?? ''}`;
    const onBucket =
      i.Key === undefined ||
      /^(ListObjects|ListObjectsV2|ListObjectVersions|HeadBucket|ListMultipartUploads|DeleteObjects)$/.test(
        op,
      );
    const resource = onBucket ? bucketArn : `${bucketArn}/${i.Key}`;
    const ctx = i.Prefix === undefined ? context : { ...context, 's3:prefix': i.Prefix };
    const out = [{ action, resource, context: ctx }];
    if (op === 'CopyObject' && i.CopySource !== undefined) {
      out.unshift({
        action: 's3:GetObject',
        resource: `arn:aws:s3:::${decodeURIComponent(i.CopySource.replace(/^\//, ''))}`,
        context,
      });
    }
    return out;
  }
  if (service === 'logs' && i.logGroupName !== undefined) {
    const stream = i.logStreamName === undefined ? '' : `:log-stream:${i.logStreamName}`;
    return [
      {
        action: `logs:${op}`,
        resource: `arn:aws:logs:${region}:${accountId}:log-group:${i.logGroupName}${stream}`,
        context,
      },
    ];
  }
  if (service === 'sqs' && i.QueueUrl !== undefined) {
    const name = i.QueueUrl.slice(i.QueueUrl.lastIndexOf('/') + 1);
    return [{ action: `sqs:${op}`, resource: `arn:aws:sqs:${region}:${accountId}:${name}`, context }];
  }
  return [{ action: `${service}:${op}`, resource: '*', context }];
}

// ------------------------------------------------------------------ the answer AWS gives

export interface Principal {
  /** The role's name. */
  roleName: string;
  /** The session name Lambda uses: the function's name. */
  sessionName: string;
  accountId: string;
}

/** AWS's AccessDenied message for an assumed-role session. */
export function deniedMessage(p: Principal, r: AuthzRequest, explicit: boolean): string {
  const why = explicit
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${r.action} action`;
  return `User: arn:aws:sts::${p.accountId}:assumed-role/${p.roleName}/${p.sessionName} is not authorized to perform: ${r.action} on resource: ${r.resource} ${why}`;
}

/** The HTTP response the service returns for a denial, in its protocol (the SDK parses it). */
export type DeniedResponse = DeniedHttpResponse;

export function deniedResponse(clientName: string, message: string): DeniedResponse {
  const requestId = randomUUID();
  if (serviceOf(clientName) === 's3') {
    const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    return {
      statusCode: 403,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${esc}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`,
    };
  }
  return {
    statusCode: 400,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: 'AccessDeniedException', message }),
  };
}

/** One denial, as the local pipeline reports it. */
export interface AccessDenial {
  functionName: string;
  roleName: string;
  action: string;
  resource: string;
  message: string;
}

/**
 * The checker one function's runtime consults for each SDK call: records what was asked (for the
 * unused-permission report) and answers with a denial response or nothing (allowed).
 */
export class RoleChecker {
  /** action → resources asked for (allowed or not). */
  readonly used = new Map<string, Set<string>>();
  readonly denials: AccessDenial[] = [];

  constructor(
    private readonly statements: readonly PolicyStatement[],
    private readonly principal: Principal,
    private readonly scope: CallScope,
    private readonly onDenied: (d: AccessDenial) => void = () => {},
  ) {}

  authorize(call: SdkCall): DeniedResponse | undefined {
    for (const r of requestsFor(call, this.scope)) {
      const seen = this.used.get(r.action) ?? new Set<string>();
      seen.add(r.resource);
      this.used.set(r.action, seen);
      const d = evaluate(this.statements, {
        ...r,
        context: {
          ...r.context,
          'aws:PrincipalArn': `arn:aws:iam::${this.principal.accountId}:role/${this.principal.roleName}`,
        },
      });
      if (d.allowed) continue;
      const message = deniedMessage(this.principal, r, d.explicit);
      const denial: AccessDenial = {
        functionName: this.principal.sessionName,
        roleName: this.principal.roleName,
        action: r.action,
        resource: r.resource,
        message,
      };
      this.denials.push(denial);
      this.onDenied(denial);
      return deniedResponse(call.clientName, message);
    }
    return undefined;
  }
}
