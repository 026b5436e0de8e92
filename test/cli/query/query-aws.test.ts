/**
 * `paypipe query` and `paypipe reconcile` on AWS, wired end to end against faked CloudFormation and
 * Athena (no local server implements Athena): the workgroup and database come from the stack's
 * outputs, the SQL is the Athena dialect with a partition predicate for the range, progress (bytes,
 * cost) goes to stderr, rows come back as the document. A stack from before the query tables gets
 * one line saying what to do.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runQuery } from '../../../src/cli/query/query.js';
import { failureOf, runReconcile } from '../../../src/cli/reconcile/reconcile.js';
import { STACK_OUTPUT_KEYS } from '../../../src/pipeline/output-keys.js';
import { captureIo } from '../../helpers/ops.js';

const cfn = mockClient(CloudFormationClient);
const athena = mockClient(AthenaClient);
const flags = { env: 'dev', region: 'ap-southeast-2' };
const NOW = Date.UTC(2024, 10, 15, 12);

const stack = (keys: readonly string[]) =>
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'paypipe-dev',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: keys.map((k) => ({ OutputKey: k, OutputValue: `${k}-v` })),
      },
    ],
  });

/** Athena answers every query with `rows` (the first row of the first page is the header). */
function answers(columns: string[], rows: Array<Array<string | null>>): void {
  let n = 0;
  athena.on(StartQueryExecutionCommand).callsFake(() => ({ QueryExecutionId: `q-${++n}` }));
  athena.on(GetQueryExecutionCommand).resolves({
    QueryExecution: { Status: { State: 'SUCCEEDED' }, Statistics: { DataScannedInBytes: 123_456_789 } },
  });
  const data = (vals: Array<string | null>) => ({
    Data: vals.map((v) => (v === null ? {} : { VarCharValue: v })),
  });
  athena.on(GetQueryResultsCommand).resolves({
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: columns.map((c) => ({ Name: c, Type: 'varchar' })) },
      Rows: [data(columns), ...rows.map(data)],
    },
  });
}

beforeAll(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});
afterAll(() => {
  vi.unstubAllEnvs();
  cfn.restore();
  athena.restore();
});
beforeEach(() => {
  cfn.reset();
  athena.reset();
});

describe('paypipe query on AWS (Athena)', () => {
  it("runs the canned SQL in the stack's workgroup and database, with progress and cost on stderr", async () => {
    stack(STACK_OUTPUT_KEYS);
    answers(['currency', 'transaction_count', 'total_amount'], [['USD', '3', '12.50']]);
    const c = captureIo();
    const since = {
      kind: 'at' as const,
      ms: Date.UTC(2024, 10, 15, 10),
      flag: '--since',
      text: '2024-11-15T10:00Z',
    };
    const doc = await runQuery({ ...flags, since }, c.io, NOW);
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start?.WorkGroup).toBe('AthenaWorkGroupName-v');
    expect(start?.QueryExecutionContext?.Database).toBe('GlueDatabaseName-v');
    expect(start?.QueryString).toContain(
      "year = '2024' AND month = '11' AND day = '15' AND hour IN ('10', '11', '12', '13')",
    );
    expect(start?.QueryString).toContain('regexp_like(');
    expect(doc).toMatchObject({
      engine: 'athena',
      target: 'aws',
      question: 'totals',
      rows: [{ currency: 'USD', transaction_count: '3', total_amount: '12.50' }],
    });
    expect(doc.bytesScanned).toBe(123_456_789);
    expect(c.err()).toMatch(/123\.5 MB scanned \(\$0\.0006 at \$5\/TB\)/);
  });

  it('a stack from before the query tables: one line saying to deploy (or pass --database/--workgroup)', async () => {
    stack(STACK_OUTPUT_KEYS.filter((k) => k !== 'GlueDatabaseName' && k !== 'AthenaWorkGroupName'));
    await expect(runQuery({ ...flags, windows: true } as never, captureIo().io, NOW)).rejects.toMatchObject({
      code: 'STACK_INCOMPLETE',
      message: expect.stringContaining('no query tables'),
      hint: expect.stringContaining('--database and --workgroup'),
    });
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(0);
  });
});

describe('paypipe reconcile on AWS (Athena)', () => {
  it('reads the findings of the same SQL: a mismatch fails, naming the window and currency', async () => {
    stack(STACK_OUTPUT_KEYS);
    answers(
      ['kind', 'window_ms', 'currency', 'raw_count', 'raw_total', 'merged_count', 'merged_total', 'detail'],
      [
        [
          'cell_mismatch',
          String(Date.UTC(2024, 10, 15, 11, 5)),
          'EUR',
          '4',
          '40.000000000',
          '3',
          '30.000',
          null,
        ],
        ['summary', null, null, '10', null, '2', null, '8/0/2'],
      ],
    );
    const r = await runReconcile(flags as never, captureIo().io, NOW);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(2); // identity + duplicates
    expect(r.records).toEqual({ raw: 10, deadLetters: 2, counted: 8, unaccounted: 0, fragments: 2 });
    expect(r.ok).toBe(false);
    expect(failureOf(r)?.message).toContain('2024-11-15T11:05:00.000Z EUR: raw 4 (40) vs aggregates 3 (30)');
  });

  it('a window that closed less than the Firehose buffer ago, short of records, is not there yet: no failure', async () => {
    stack(STACK_OUTPUT_KEYS);
    const lastWindow = NOW - 60_000; // closed at NOW: its aggregate may be in the buffer
    answers(
      ['kind', 'window_ms', 'currency', 'raw_count', 'raw_total', 'merged_count', 'merged_total', 'detail'],
      [
        ['cell_mismatch', String(lastWindow), 'USD', '5', '50.000000000', '0', '0', null],
        ['summary', null, null, '5', null, '0', null, '5/0'],
      ],
    );
    const r = await runReconcile(flags as never, captureIo().io, NOW);
    expect(r.mismatches).toEqual([]);
    expect(r.pending.map((m) => m.window_start)).toEqual([new Date(lastWindow).toISOString()]);
    expect(r.ok).toBe(true);
  });
});
