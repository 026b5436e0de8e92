/**
 * Athena has no local server: its client is faked with aws-sdk-client-mock. The adversaries: a
 * query that keeps running when the user presses Ctrl-C (it must be STOPPED, not abandoned: it
 * keeps scanning and billing), a query Athena fails (its reason must reach the user in one line),
 * results over several pages (every row once, the header row dropped once), and progress that must
 * show bytes scanned and the cost.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  type QueryExecutionState,
  type QueryExecutionStatus,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type AthenaProgress, runAthenaQuery, scanCostUsd } from '../../src/aws/athena.js';

const athena = mockClient(AthenaClient);
afterEach(() => athena.reset());

const client = new AthenaClient({
  region: 'ap-southeast-2',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
});
const noSleep = async (): Promise<void> => {};
const base = { sql: 'SELECT 1', workGroup: 'wg', database: 'paypipe_dev', sleep: noSleep };

const state = (
  State: QueryExecutionState,
  bytes: number,
  extra: Omit<QueryExecutionStatus, 'State'> = {},
): GetQueryExecutionCommandOutput => ({
  $metadata: {},
  QueryExecution: { Status: { State, ...extra }, Statistics: { DataScannedInBytes: bytes } },
});

describe('runAthenaQuery', () => {
  it('starts in the workgroup and database, reports progress with bytes and cost, pages through every row', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(state('QUEUED', 0))
      .resolvesOnce(state('RUNNING', 5e9))
      .resolves(state('SUCCEEDED', 2e12));
    const cols = {
      ColumnInfo: [
        { Name: 'currency', Type: 'varchar' },
        { Name: 'total', Type: 'decimal' },
      ],
    };
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({
        ResultSet: {
          ResultSetMetadata: cols,
          Rows: [
            { Data: [{ VarCharValue: 'currency' }, { VarCharValue: 'total' }] },
            { Data: [{ VarCharValue: 'EUR' }, { VarCharValue: '10.10' }] },
          ],
        },
        NextToken: 't2',
      })
      .resolvesOnce({
        ResultSet: { ResultSetMetadata: cols, Rows: [{ Data: [{ VarCharValue: 'USD' }, {}] }] },
      });
    const progress: AthenaProgress[] = [];
    const r = await runAthenaQuery(client, { ...base, onProgress: (p) => progress.push(p) });
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start).toEqual({
      QueryString: 'SELECT 1',
      WorkGroup: 'wg',
      QueryExecutionContext: { Database: 'paypipe_dev' },
    });
    expect(progress.map((p) => p.state)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(progress[1]?.bytesScanned).toBe(5e9);
    expect(r.costUsd).toBe(10); // 2 TB at $5/TB
    expect(r.rows).toEqual([
      { currency: 'EUR', total: '10.10' },
      { currency: 'USD', total: null },
    ]);
    expect(athena.commandCalls(GetQueryResultsCommand)[1]?.args[0].input.NextToken).toBe('t2');
  });

  it('Ctrl-C stops the running query (StopQueryExecution) and says so', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    const ac = new AbortController();
    athena.on(GetQueryExecutionCommand).callsFake(() => {
      ac.abort(); // the user presses Ctrl-C while it runs
      return state('RUNNING', 1e6);
    });
    athena.on(StopQueryExecutionCommand).resolves({});
    await expect(runAthenaQuery(client, { ...base, signal: ac.signal })).rejects.toMatchObject({
      code: 'INTERRUPTED',
      message: expect.stringContaining('q-2 stopped'),
    });
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q-2',
    });
  });

  it("a failed query is one PaypipeError with Athena's reason; a SQL error is a usage error", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-3' });
    athena.on(GetQueryExecutionCommand).resolves(
      state('FAILED', 0, {
        StateChangeReason: 'x',
        AthenaError: { ErrorCategory: 2, ErrorMessage: "line 1:8: Column 'nope' cannot be\nresolved" },
      }),
    );
    await expect(runAthenaQuery(client, base)).rejects.toMatchObject({
      code: 'USAGE',
      message: "Athena query q-3 failed: line 1:8: Column 'nope' cannot be resolved",
    });
    athena
      .on(GetQueryExecutionCommand)
      .resolves(
        state('FAILED', 0, { AthenaError: { ErrorCategory: 1, ErrorMessage: 'Query exhausted resources' } }),
      );
    await expect(runAthenaQuery(client, base)).rejects.toMatchObject({ code: 'AWS' });
  });

  it('a refused start names the workgroup and the reason', async () => {
    const e = Object.assign(new Error('WorkGroup wg is disabled'), { name: 'InvalidRequestException' });
    athena.on(StartQueryExecutionCommand).rejects(e);
    await expect(runAthenaQuery(client, base)).rejects.toMatchObject({
      code: 'USAGE',
      message: 'Athena refused the query: WorkGroup wg is disabled',
    });
  });

  it('cost: $5 per TB with the 10 MB minimum', () => {
    expect(scanCostUsd(0)).toBeCloseTo((10 * 1024 * 1024 * 5) / 1e12, 15);
    expect(scanCostUsd(1e12)).toBe(5);
  });
});
