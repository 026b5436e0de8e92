/**
 * src/aws is the only code that talks to the AWS SDK. The adversary is the next contributor who
 * reaches for `client.send(new XCommand(…))` or an `@aws-sdk/client-*` import from a feature,
 * the local pipeline or a Lambda: this fails on any such line outside src/aws and names it.
 *
 * Decided: type-only imports count too. src/aws re-exports the client types the rest of the code
 * needs (`KinesisClient` from kinesis.ts, `S3Client` from s3.ts, …), so nothing outside it needs
 * an SDK package at all. `@smithy/*` (the SDK's own plumbing) is held to the same rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

/** SDK packages, however they are imported: static, type-only, side-effect, dynamic, re-exported, required. */
const SDK_IMPORT = /(?:\bfrom|\bimport|\brequire)\s*\(?\s*['"`]((?:@aws-sdk|@smithy)\/[^'"`]+)['"`]/g;
/** A command object handed to a client: the SDK's call shape. */
const SDK_CALL = /\.send\(\s*new\s+([A-Z]\w*Command)\b/g;

interface SdkUse {
  line: number;
  what: string;
}

function sdkUses(source: string): SdkUse[] {
  const out: SdkUse[] = [];
  const lineOf = (index: number): number => source.slice(0, index).split('\n').length;
  for (const m of source.matchAll(SDK_IMPORT)) out.push({ line: lineOf(m.index), what: `imports ${m[1]}` });
  for (const m of source.matchAll(SDK_CALL)) out.push({ line: lineOf(m.index), what: `sends ${m[1]}` });
  return out.sort((a, b) => a.line - b.line);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|cts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

const outsideAws = (): Array<{ file: string; uses: SdkUse[] }> =>
  sourceFiles(join(root, 'src'))
    .map((p) => relative(root, p))
    .filter((f) => !f.startsWith('src/aws/'))
    .map((file) => ({ file, uses: sdkUses(readFileSync(join(root, file), 'utf8')) }))
    .filter((f) => f.uses.length > 0);

describe('the scanner', () => {
  it('finds every way of reaching the SDK', () => {
    const hostile = [
      `import { KinesisClient } from '@aws-sdk/client-kinesis';`,
      `import type { S3Client } from "@aws-sdk/client-s3";`,
      `import {\n  PutRecordsCommand,\n  type KinesisClient,\n} from '@aws-sdk/client-kinesis';`,
      `const { InvokeCommand } = await import(\n  '@aws-sdk/client-lambda'\n);`,
      `let c: import('@aws-sdk/client-lambda').LambdaClient;`,
      `export { S3Client } from '@aws-sdk/client-s3';`,
      `export * from '@aws-sdk/client-sqs';`,
      `import '@aws-sdk/client-sts';`,
      `const k = require('@aws-sdk/client-kinesis');`,
      `import { NodeHttpHandler } from '@smithy/node-http-handler';`,
      `await client.send(new GetRecordsCommand({ ShardIterator: it }));`,
      `await this.o.s3.send(\n  new PutObjectCommand({ Bucket: b, Key: k }),\n);`,
    ];
    for (const src of hostile) expect(sdkUses(src), src).toHaveLength(1);
  });

  it('leaves process messages, src/aws imports and prose alone', () => {
    const benign = [
      `if (child.connected) child.send({ type: 'stop' });`,
      `process.send?.(m);`,
      `import { sendRecords } from '../aws/kinesis.js';`,
      `import type { KinesisClient } from '../aws/kinesis.js';`,
      `// the SDK clients live in src/aws (see @aws-sdk docs)`,
    ];
    for (const src of benign) expect(sdkUses(src), src).toEqual([]);
  });

  it('sees the SDK where it is used: in src/aws', () => {
    const inAws = sourceFiles(join(root, 'src', 'aws')).filter(
      (p) => sdkUses(readFileSync(p, 'utf8')).length > 0,
    );
    // Not a vacuous pass: every service module is found calling or importing the SDK.
    for (const m of [
      'clients',
      'kinesis',
      's3',
      'logs',
      'events',
      'cloudformation',
      'lambda',
      'sqs',
      'sts',
    ]) {
      expect(inAws.map((p) => relative(join(root, 'src', 'aws'), p))).toContain(`${m}.ts`);
    }
  });
});

describe('only src/aws calls the AWS SDK', () => {
  it('no file outside src/aws imports an SDK package or sends an SDK command', () => {
    const offenders = outsideAws().flatMap((f) => f.uses.map((u) => `${f.file}:${u.line} ${u.what}`));
    expect(offenders, 'call the src/aws module of that service instead').toEqual([]);
  });
});
