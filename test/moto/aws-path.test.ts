/**
 * The AWS path, end to end, on an engine nobody here wrote: moto_server (a Python emulator of the
 * AWS APIs) stands in for an account. The built CLI bootstraps CDK, deploys the bundled stack
 * directly (CreateStack/UpdateStack), reads its outputs, runs doctor, sends, peeks, changes the
 * schedule, reads results, deploys again with no changes, and destroys — all over HTTP, with the
 * same flags and environment an operator would use.
 *
 * Adversaries: a deploy that claims success without the outputs the CLI reads; a CLI that stops
 * every command for an output only some use; a second deploy that updates what did not change; a
 * destroy that leaves resources behind.
 *
 * What moto cannot show (the gap stays visible here, and each item is asserted as such):
 * - Firehose: no CloudFormation support, so the stack comes back without the two delivery streams
 *   and their outputs. The honest result is a deploy that fails naming exactly those outputs,
 *   after which every command that does not need Firehose works.
 * - Lambda execution (needs Docker): the producer and aggregator never run, so no aggregates and
 *   no raw objects reach S3; the test writes one aggregation object as Firehose would, to show
 *   `results` reads the deployed bucket.
 * - CDK's S3 auto-delete custom resource runs in a Lambda too: the test answers its CloudFormation
 *   callback as that handler would (SUCCESS on create) and, before destroy, empties the buckets as
 *   its delete does. Lambda also leaves that handler's log group, created at invoke time and not a
 *   stack resource (it is left on AWS as well).
 * - Stack outputs exist only for stacks created directly (moto skips them for change sets): the
 *   test deploys with `--method direct`, the choice cdk users know.
 * - Bucket policies, log streams, EventInvokeConfig and queue policies are skipped by moto's
 *   CloudFormation; CloudWatch metrics stay empty (doctor's lag checks warn), and freshness fails.
 * - Stack parameters: moto reports the resolved SSM value as the BootstrapVersion parameter's
 *   value, so the toolkit cannot prove the parameters unchanged and calls UpdateStack on a
 *   no-change deploy, which moto records as a stack update. The test asserts what an update would
 *   change instead: the template, every resource and physical id, the outputs, and a schedule
 *   changed out of band that an update would restore.
 * - CloudWatch alarms: moto's CloudFormation creates dashboards but not AWS::CloudWatch::Alarm, so
 *   a stack with alarms fails to create (a dashboard widget's Fn::GetAtt names a missing alarm). The
 *   test's environment sets the `monitoring: false` setting (paypipe.config.json), which leaves
 *   alarms, their topic and the dashboard out; test/infra/monitoring.test.ts covers them.
 * - Glue and Athena: moto's CloudFormation has no AWS::Glue::* or AWS::Athena::* resources; it
 *   skips them with a warning and their outputs with them, so a stack with the query tables would
 *   "deploy" without them and prove nothing. The test's environment sets `queryTables: false`,
 *   which leaves the database, tables, workgroup and results bucket out (and doctor's tables check
 *   says so); test/infra/query-tables.test.ts and validation.test.ts (cdk-nag, cfn-lint) cover them.
 * - TemplateURL: moto parses it only with a `localhost` host, so the endpoint is
 *   http://localhost:<port>; S3 path-style addressing comes from AWS_ENDPOINT_URL_S3.
 *
 * Skipped, with a printed reason, where moto_server is not on PATH.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeRuleCommand, EventBridgeClient, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { LambdaClient, ListEventSourceMappingsCommand, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import {
  DeleteObjectsCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateId, renderAggregate } from '../../src/domain/aggregate.js';
import { encodeNdjson } from '../../src/pipeline/codec.js';
import { paypipeVersion } from '../../src/version.js';
import { type BuiltCli, buildCli, runCli, type RunResult } from '../helpers/build-cli.js';
import { findMotoServer, type Moto, startMoto } from '../helpers/moto.js';

const motoBin = findMotoServer();
if (motoBin === undefined) {
  console.log(
    'moto AWS-path test skipped: moto_server is not on PATH (pip install "moto[server]" to run it)',
  );
}

const STACK = 'paypipe-dev';
const FIREHOSE_OUTPUTS = ['RawDeliveryStreamName', 'AnalyticsDeliveryStreamName'];
/** Doctor checks that fail only because moto cannot run Firehose or Lambda (see the header). */
const MOTO_GAPS = new Set([
  'stack.outputs',
  'firehose.raw',
  'firehose.analytics',
  'freshness.raw',
  'freshness.aggregations',
]);

describe.skipIf(motoBin === undefined)('the AWS path on moto', () => {
  let moto: Moto;
  let cli: BuiltCli;
  let aws: ReturnType<typeof clientsFor>;
  let configFile: string;
  const started = Date.now();

  beforeAll(async () => {
    [moto, cli] = await Promise.all([startMoto(motoBin as string), buildCli()]);
    // deploy bundles the Lambdas from src/lambdas: buildCli links src/ and the lock file, as an
    // installed paypipe has them in its package.
    // moto cannot create CloudWatch alarms, Glue tables or Athena workgroups through
    // CloudFormation (see above).
    configFile = join(cli.dir, 'paypipe.config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ environments: { dev: { monitoring: false, queryTables: false } } }),
    );
    aws = clientsFor(moto);
  });
  afterAll(async () => {
    await moto?.stop();
    cli?.cleanup();
  });

  const paypipe = (args: string[], timeoutMs = 60_000): Promise<RunResult> =>
    runCli(cli, args, { env: { ...moto.env, NO_COLOR: '1', PAYPIPE_CONFIG: configFile }, timeoutMs });
  const json = <T>(r: RunResult): T => JSON.parse(r.stdout) as T;
  /** With --json a failure is one `{"error":…}` document on stderr (progress lines precede it). */
  const errorOf = (r: RunResult) => {
    const line = r.stderr.split('\n').find((l) => l.startsWith('{"error"'));
    if (line === undefined) throw new Error(`no JSON error document; stderr: ${r.stderr.slice(-2000)}`);
    return (JSON.parse(line) as { error: { code: string; message: string } & Record<string, unknown> }).error;
  };

  let outputs: Record<string, string>;

  // The test timeouts match the CLI's (runCli kills it past its own): a deploy on a loaded machine
  // may take longer than the default 60 s and must then fail as a timeout of the CLI, not of vitest.
  it('deploy --bootstrap --method direct: fails naming the outputs moto left out (Firehose), not "Deployed"', {
    timeout: 160_000,
  }, async () => {
    const responder = answerCustomResources(moto, aws.cfn);
    let r: RunResult;
    try {
      r = await paypipe(
        ['deploy', '--bootstrap', '--method', 'direct', '--require-approval', 'never', '--json'],
        150_000,
      );
    } finally {
      await responder.stop();
    }
    expect(r.code, r.stderr).toBe(1);
    const e = errorOf(r) as { code: string; message: string; missing?: string[] };
    expect(e.code, JSON.stringify(e)).toBe('STACK_INCOMPLETE');
    expect(e.message).toContain(`deploy of ${STACK} (direct) left the stack without the outputs`);
    expect((e as unknown as { missing: string[] }).missing.sort()).toEqual([...FIREHOSE_OUTPUTS].sort());
    expect(r.stderr).not.toMatch(/✔|Deployed paypipe-dev \(/);
    expect(responder.answered.length).toBeGreaterThan(0);

    const stack = (await aws.cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
  });

  it('outputs: everything but Firehose, with the paypipe version that deployed it', async () => {
    const r = await paypipe(['outputs', '--json']);
    expect(r.code, r.stderr).toBe(0);
    outputs = json<{ outputs: Record<string, string> }>(r).outputs;
    expect(outputs.PaypipeVersion).toBe(paypipeVersion());
    expect(outputs.InputStreamName).toBe(`${STACK}-input-stream`);
    expect(outputs.AnalyticsBucketName).toMatch(/^paypipe-dev-analyticsbucket/);
    for (const k of FIREHOSE_OUTPUTS) expect(outputs[k]).toBeUndefined();
    // queryTables is off here (see above): no query resources, so none of their outputs.
    expect(outputs.GlueDatabaseName).toBeUndefined();
    expect(outputs.AthenaWorkGroupName).toBeUndefined();
  });

  it('doctor: the stack and CLI versions agree; only the checks moto cannot satisfy fail', async () => {
    const r = await paypipe(['doctor', '--json']);
    expect(r.code).toBe(1);
    const report = json<{ checks: Array<{ id: string; status: string; evidence: string }> }>(r);
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    expect(byId.get('stack')?.status).toBe('pass');
    expect(byId.get('stack.version')).toMatchObject({
      status: 'pass',
      evidence: `deployed by paypipe ${paypipeVersion()}, the version of this CLI`,
    });
    expect(byId.get('stack.outputs')?.evidence).toContain(FIREHOSE_OUTPUTS.join(', '));
    expect(byId.get('stream.input')?.status).toBe('pass');
    expect(byId.get('stream.output')?.status).toBe('pass');
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    expect(failed.filter((id) => !MOTO_GAPS.has(id))).toEqual([]);
    expect(failed).toContain('stack.outputs');
  });

  it('send then peek: the events are on the deployed input stream', async () => {
    const sent = await paypipe(['send', '--count', '40', '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(json<{ sent: number; failed: number; stream: string }>(sent)).toMatchObject({
      sent: 40,
      failed: 0,
      stream: outputs.InputStreamName,
    });
    const peek = await paypipe(['peek', '--from', 'trim-horizon', '--limit', '40', '--json']);
    expect(peek.code, peek.stderr).toBe(0);
    const records = peek.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { data: { transaction_id: string } });
    expect(records).toHaveLength(40);
    expect(new Set(records.map((x) => x.data.transaction_id)).size).toBe(40);
  });

  it('schedule: the change lands on the deployed EventBridge rule', async () => {
    const r = await paypipe(['schedule', '--rate', '5m', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ expression: string }>(r).expression).toBe('rate(5 minutes)');
    const rule = await aws.events.send(new DescribeRuleCommand({ Name: outputs.ProducerScheduleRuleName }));
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
  });

  it('results: reads an aggregation object from the deployed analytics bucket', async () => {
    // Firehose cannot run on moto: write what it would deliver, one gzip NDJSON object.
    const windowMs = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    const a = renderAggregate(
      aggregateId(
        { shardId: 'shardId-000000000000', firstSequenceNumber: '1', lastSequenceNumber: '3' },
        new Date(windowMs).toISOString(),
        'EUR',
      ),
      windowMs,
      60_000,
      'EUR',
      { count: 3, totalMinor: 12_345, minMinor: 1_000, maxMinor: 6_000 },
    );
    const d = new Date(windowMs);
    const p2 = (n: number) => String(n).padStart(2, '0');
    const key = `aggregations/year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/moto-e2e.gz`;
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: outputs.AnalyticsBucketName,
        Key: key,
        Body: gzipSync(encodeNdjson([a])),
      }),
    );
    const r = await paypipe(['results', '--last', '1h', '--format', 'json', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"currency":"EUR"');
    expect(r.stdout).toContain('123.45');
  });

  it('a second deploy with no changes updates nothing', { timeout: 130_000 }, async () => {
    const before = await stackState(aws.cfn);
    const r = await paypipe(
      ['deploy', '--method', 'direct', '--require-approval', 'never', '--json', '--debug'],
      120_000,
    );
    // Still no Firehose outputs: still a failed deploy, and it says so.
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    expect(errorOf(r).code).toBe('STACK_INCOMPLETE');
    // The same checkout synthesizes the same template (deterministic assets), and the toolkit
    // compares it unaltered: a synth that obscured its copy (no CheckBootstrapVersion rule) or a
    // changed asset hash makes the toolkit say this and update every time.
    expect(r.stderr).toContain('checking if we can skip deploy');
    expect(r.stderr).not.toContain(`${STACK}: template has changed`);
    // Nothing in the stack changed: same template, same resources with the same physical ids.
    expect(await stackState(aws.cfn)).toEqual(before);
    // An update would also have restored the configured schedule changed out of band above.
    const rule = await aws.events.send(new DescribeRuleCommand({ Name: outputs.ProducerScheduleRuleName }));
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
  });

  it('destroy leaves nothing of the stack behind', { timeout: 130_000 }, async () => {
    // CDK's auto-delete handler empties the buckets during deletion; moto cannot run it (Lambda).
    for (const b of [outputs.RawBucketName, outputs.AnalyticsBucketName])
      await emptyBucket(aws.s3, b as string);
    const r = await paypipe(['destroy', '--force', '--json'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(json<{ destroyed: boolean }>(r).destroyed).toBe(true);

    const left = await leftovers(aws);
    expect(left).toEqual({
      stack: 'DELETE_COMPLETE or gone',
      streams: [],
      buckets: [],
      functions: [],
      mappings: [],
      queues: [],
      rules: [],
      roles: [],
      // Created by Lambda when moto tried to invoke CDK's auto-delete handler, not by the stack.
      logGroups: [expect.stringMatching(/^\/aws\/lambda\/paypipe-dev-CustomS3AutoDeleteObjects/)],
    });
    expect(Date.now() - started).toBeLessThan(180_000);
  });
});

// ------------------------------------------------------------------ helpers

function clientsFor(moto: Moto) {
  const base = {
    region: moto.region,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler: new NodeHttpHandler(),
  };
  return {
    endpoint: moto.endpoint,
    region: moto.region,
    cfn: new CloudFormationClient(base),
    s3: new S3Client({ ...base, forcePathStyle: true }),
    kinesis: new KinesisClient(base),
    lambda: new LambdaClient(base),
    sqs: new SQSClient(base),
    events: new EventBridgeClient(base),
    logs: new CloudWatchLogsClient(base),
  };
}

/**
 * Plays the Lambda behind CDK's custom resources, which moto cannot run: answers each pending
 * custom resource's CloudFormation callback with SUCCESS, as the handler does on create.
 */
function answerCustomResources(moto: Moto, cfn: CloudFormationClient) {
  const answered: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const stack = (await cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
        const res = await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }));
        for (const x of res.StackResources ?? []) {
          const id = x.LogicalResourceId ?? '';
          if (
            !x.ResourceType?.startsWith('Custom::') ||
            answered.includes(id) ||
            stack?.StackId === undefined
          ) {
            continue;
          }
          const url = `${moto.endpoint}/cloudformation_${moto.region}/cfnresponse?stack=${encodeURIComponent(stack.StackId)}`;
          const r = await fetch(url, {
            method: 'PUT',
            // moto picks the region (and so the stack) from the signature's credential scope.
            headers: {
              authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${moto.region}/cloudformation/aws4_request, SignedHeaders=host, Signature=0`,
            },
            body: JSON.stringify({
              Status: 'SUCCESS',
              StackId: stack.StackId,
              LogicalResourceId: id,
              Data: {},
            }),
          });
          if (r.ok) answered.push(id);
        }
      } catch {
        // the stack does not exist yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    answered,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * What a real update would change: the template, the resources and their physical ids, the
 * outputs. (Not the stack's own events or LastUpdatedTime: see the header on moto's parameters.)
 */
async function stackState(cfn: CloudFormationClient) {
  const s = (await cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
  const template = (await cfn.send(new GetTemplateCommand({ StackName: STACK }))).TemplateBody;
  const resources =
    (await cfn.send(new DescribeStackResourcesCommand({ StackName: STACK }))).StackResources ?? [];
  return {
    template,
    resources: resources.map((x) => `${x.LogicalResourceId}=${x.PhysicalResourceId}`).sort(),
    outputs: s?.Outputs?.map((o) => `${o.OutputKey}=${o.OutputValue}`).sort(),
  };
}

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  const v = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
  const objects = [...(v.Versions ?? []), ...(v.DeleteMarkers ?? [])].map((o) => ({
    Key: o.Key as string,
    VersionId: o.VersionId,
  }));
  if (objects.length > 0)
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
}

/** IAM ListRoles over its query protocol (no IAM client among this project's dependencies). */
async function iamRoleNames(endpoint: string, region: string): Promise<string[]> {
  const r = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/iam/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: 'Action=ListRoles&Version=2010-05-08&MaxItems=1000',
  });
  const xml = await r.text();
  if (!r.ok) throw new Error(`IAM ListRoles: ${r.status} ${xml.slice(0, 200)}`);
  return [...xml.matchAll(/<RoleName>([^<]+)<\/RoleName>/g)].map((m) => m[1] as string);
}

async function leftovers(aws: ReturnType<typeof clientsFor>) {
  const ours = (names: Array<string | undefined>) =>
    names.filter((n): n is string => n !== undefined && /paypipe-dev/i.test(n));
  let stack = 'DELETE_COMPLETE or gone';
  try {
    const s = (await aws.cfn.send(new DescribeStacksCommand({ StackName: STACK }))).Stacks?.[0];
    if (s !== undefined && s.StackStatus !== 'DELETE_COMPLETE') stack = s.StackStatus ?? 'UNKNOWN';
  } catch {
    // gone
  }
  return {
    stack,
    streams: ours((await aws.kinesis.send(new ListStreamsCommand({}))).StreamNames ?? []),
    buckets: ours(((await aws.s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name)),
    functions: ours(
      ((await aws.lambda.send(new ListFunctionsCommand({}))).Functions ?? []).map((f) => f.FunctionName),
    ),
    mappings: ((await aws.lambda.send(new ListEventSourceMappingsCommand({}))).EventSourceMappings ?? []).map(
      (m) => m.UUID,
    ),
    queues: ours((await aws.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []),
    rules: ours(((await aws.events.send(new ListRulesCommand({}))).Rules ?? []).map((r) => r.Name)),
    roles: ours(await iamRoleNames(aws.endpoint, aws.region)),
    logGroups: ours(
      ((await aws.logs.send(new DescribeLogGroupsCommand({}))).logGroups ?? []).map((g) => g.logGroupName),
    ),
  };
}
