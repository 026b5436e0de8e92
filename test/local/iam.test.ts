/**
 * The local IAM engine against IAM's rules. Adversaries: a policy whose wildcards or conditions
 * would be read more loosely than IAM reads them (a grant that works locally and is denied on AWS,
 * or the reverse), and a condition operator the engine does not know (must fail loudly).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PolicyStatement } from '../../src/local/assembly.js';
import { deniedResponse, evaluate, requestsFor, RoleChecker, wildcard } from '../../src/local/iam.js';

const scope = { region: 'ap-southeast-2', accountId: '000000000000' };
const ctx = { 'aws:SecureTransport': 'true' };
const req = (action: string, resource: string, context: Record<string, string> = ctx) => ({
  action,
  resource,
  context,
});

describe('wildcard', () => {
  it('`*` matches any run and `?` one character, nothing else is special', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        expect(wildcard(`${a.replace(/[*?]/g, '')}*`, `${a.replace(/[*?]/g, '')}${b}`)).toBe(true);
        // Regex metacharacters in a pattern are literal.
        const lit = `(${c}).+[x]$`.replace(/[*?]/g, '');
        expect(wildcard(lit, lit)).toBe(true);
        if (lit.length > 1) expect(wildcard(lit, lit.slice(1))).toBe(false);
      }),
    );
    expect(wildcard('arn:aws:s3:::b/dead-letters/*', 'arn:aws:s3:::b/dead-letters/x/y.ndjson')).toBe(true);
    expect(wildcard('arn:aws:s3:::b/dead-letters/*', 'arn:aws:s3:::b/aggregations/x')).toBe(false);
    expect(wildcard('kinesis:Put?ecords', 'kinesis:PutRecords')).toBe(true);
  });
});

describe('evaluate', () => {
  const allowPut: PolicyStatement = {
    Effect: 'Allow',
    Action: ['kinesis:PutRecords'],
    Resource: 'arn:aws:kinesis:r:1:stream/out',
  };
  it('allows only what an Allow names; actions are case-insensitive, resources are not', () => {
    expect(evaluate([allowPut], req('kinesis:PutRecords', 'arn:aws:kinesis:r:1:stream/out')).allowed).toBe(
      true,
    );
    expect(evaluate([allowPut], req('Kinesis:putrecords', 'arn:aws:kinesis:r:1:stream/out')).allowed).toBe(
      true,
    );
    expect(evaluate([allowPut], req('kinesis:PutRecord', 'arn:aws:kinesis:r:1:stream/out')).allowed).toBe(
      false,
    );
    expect(evaluate([allowPut], req('kinesis:PutRecords', 'arn:aws:kinesis:r:1:stream/OUT')).allowed).toBe(
      false,
    );
    expect(evaluate([], req('kinesis:PutRecords', '*'))).toEqual({ allowed: false, explicit: false });
  });

  it('an explicit Deny wins over any Allow, in any order', () => {
    const deny: PolicyStatement = { Effect: 'Deny', Action: 'kinesis:*', Resource: '*' };
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(allowPut, deny, allowPut)).filter((a) => a.includes(deny)),
        (stmts) => {
          expect(evaluate(stmts, req('kinesis:PutRecords', 'arn:aws:kinesis:r:1:stream/out'))).toMatchObject({
            allowed: false,
            explicit: true,
          });
        },
      ),
    );
  });

  it('NotAction / NotResource and the conditions the stack uses', () => {
    const s: PolicyStatement = {
      Effect: 'Allow',
      NotAction: 's3:Delete*',
      Resource: 'arn:aws:s3:::b/*',
      Condition: {
        Bool: { 'aws:SecureTransport': 'true' },
        StringEquals: { 'aws:RequestedRegion': ['ap-southeast-2'] },
      },
    };
    const c = { 'aws:SecureTransport': 'true', 'aws:RequestedRegion': 'ap-southeast-2' };
    expect(evaluate([s], req('s3:PutObject', 'arn:aws:s3:::b/k', c)).allowed).toBe(true);
    expect(evaluate([s], req('s3:DeleteObject', 'arn:aws:s3:::b/k', c)).allowed).toBe(false);
    expect(
      evaluate([s], req('s3:PutObject', 'arn:aws:s3:::b/k', { ...c, 'aws:SecureTransport': 'false' }))
        .allowed,
    ).toBe(false);
    expect(
      evaluate([s], req('s3:PutObject', 'arn:aws:s3:::b/k', { 'aws:SecureTransport': 'true' })).allowed,
    ).toBe(false);
    const kms: PolicyStatement = {
      Effect: 'Allow',
      Action: 'kms:GenerateDataKey',
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': ['kinesis.r.amazonaws.com', 's3.r.amazonaws.com'] } },
    };
    expect(
      evaluate([kms], req('kms:GenerateDataKey', 'k', { 'kms:ViaService': 's3.r.amazonaws.com' })).allowed,
    ).toBe(true);
    expect(evaluate([kms], req('kms:GenerateDataKey', 'k', {})).allowed).toBe(false);
    expect(() =>
      evaluate(
        [
          {
            Effect: 'Allow',
            Action: '*',
            Resource: '*',
            Condition: { DateGreaterThan: { 'aws:CurrentTime': '2020' } },
          },
        ],
        req('a:b', 'c', { 'aws:CurrentTime': 'x' }),
      ),
    ).toThrow(/does not implement the condition operator DateGreaterThan/);
  });
});

describe('SDK calls as IAM requests', () => {
  it('maps operations to the actions and resources IAM checks', () => {
    const r = (clientName: string, commandName: string, input: Record<string, string>) =>
      requestsFor({ clientName, commandName, input }, scope).map((x) => `${x.action} ${x.resource}`);
    expect(r('KinesisClient', 'PutRecordsCommand', { StreamName: 's' })).toEqual([
      'kinesis:PutRecords arn:aws:kinesis:ap-southeast-2:000000000000:stream/s',
    ]);
    expect(r('S3Client', 'PutObjectCommand', { Bucket: 'b', Key: 'dead-letters/x' })).toEqual([
      's3:PutObject arn:aws:s3:::b/dead-letters/x',
    ]);
    expect(r('S3Client', 'HeadObjectCommand', { Bucket: 'b', Key: 'k' })).toEqual([
      's3:GetObject arn:aws:s3:::b/k',
    ]);
    expect(r('S3Client', 'ListObjectsV2Command', { Bucket: 'b', Prefix: 'p/' })).toEqual([
      's3:ListBucket arn:aws:s3:::b',
    ]);
    expect(r('S3Client', 'CompleteMultipartUploadCommand', { Bucket: 'b', Key: 'k', UploadId: 'u' })).toEqual(
      ['s3:PutObject arn:aws:s3:::b/k'],
    );
  });

  it("a denial is the service's own error response, and the checker records what was asked", () => {
    const denials: string[] = [];
    const c = new RoleChecker(
      [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/dead-letters/*' }],
      { roleName: 'R', sessionName: 'fn', accountId: '000000000000' },
      scope,
      (d) => denials.push(d.message),
    );
    expect(
      c.authorize({
        clientName: 'S3Client',
        commandName: 'PutObjectCommand',
        input: { Bucket: 'b', Key: 'dead-letters/1' },
      }),
    ).toBeUndefined();
    const denied = c.authorize({
      clientName: 'S3Client',
      commandName: 'PutObjectCommand',
      input: { Bucket: 'b', Key: 'other/1' },
    });
    expect(denied?.statusCode).toBe(403);
    expect(denied?.body).toMatch(
      /<Code>AccessDenied<\/Code><Message>User: arn:aws:sts::000000000000:assumed-role\/R\/fn is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::b\/other\/1 because no identity-based policy allows the s3:PutObject action<\/Message>/,
    );
    expect(denials).toHaveLength(1);
    expect([...(c.used.get('s3:PutObject') ?? [])]).toEqual([
      'arn:aws:s3:::b/dead-letters/1',
      'arn:aws:s3:::b/other/1',
    ]);
    const k = deniedResponse('KinesisClient', 'm');
    expect(k.statusCode).toBe(400);
    expect(JSON.parse(k.body)).toEqual({ __type: 'AccessDeniedException', message: 'm' });
  });
});
