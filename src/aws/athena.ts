/**
 * Athena as paypipe uses it: one query in the stack's workgroup (its results location, encryption
 * and per-query scan limit are the workgroup's, enforced), polled until it ends with progress
 * (state, bytes scanned, cost at $5 per TB), results read with the SDK's paginator, stopped with
 * StopQueryExecution when the caller aborts (Ctrl-C). A failed query is one PaypipeError with
 * Athena's own reason.
 */
import type { AthenaClient, GetQueryExecutionCommandOutput } from '@aws-sdk/client-athena';
import { setTimeout as delay } from 'node:timers/promises';
import { PaypipeError } from '../errors.js';
import { errorMessage, errorName } from './errors.js';

export type { AthenaClient } from '@aws-sdk/client-athena';

/** Athena's price for SQL queries: $5 per TB scanned (10 MB minimum per query). */
export const USD_PER_TB = 5;
const MIN_BILLED_BYTES = 10 * 1024 * 1024;

/** What a scan of `bytes` costs, in USD (with Athena's 10 MB minimum once anything ran). */
export function scanCostUsd(bytes: number): number {
  return (Math.max(bytes, MIN_BILLED_BYTES) / 1e12) * USD_PER_TB;
}

export interface AthenaProgress {
  state: string;
  bytesScanned: number;
  costUsd: number;
  elapsedMs: number;
}

export interface AthenaQuery {
  sql: string;
  workGroup: string;
  database: string;
  signal?: AbortSignal;
  onProgress?: (p: AthenaProgress) => void;
  /** Poll interval (grows ×1.5 up to 2 s from here). */
  pollMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface AthenaResult {
  queryExecutionId: string;
  columns: Array<{ name: string; type: string }>;
  /** Values as Athena returns them: text (NULL → null). */
  rows: Array<Record<string, string | null>>;
  bytesScanned: number;
  costUsd: number;
  elapsedMs: number;
}

/** Resolves after `ms`, or at once when the signal aborts (the loop then stops the query). */
const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal === undefined ? {} : { signal }).catch(() => undefined);

function awsError(e: unknown, what: string): PaypipeError {
  if (e instanceof PaypipeError) return e;
  const name = errorName(e);
  if (name === 'AccessDeniedException') {
    return new PaypipeError('AWS', `access denied: ${what}: ${errorMessage(e)}`, {
      hint: 'the credentials in use need athena:StartQueryExecution/GetQueryExecution/GetQueryResults/StopQueryExecution, glue:GetTable/GetDatabase and S3 read on the buckets (docs/query.md)',
      cause: e,
    });
  }
  if (name === 'InvalidRequestException') {
    return new PaypipeError('USAGE', `Athena refused the query: ${errorMessage(e)}`, {
      hint: 'check the SQL; tables: raw_events, raw_lines, batch_outputs, dead_letters (docs/query.md)',
      cause: e,
    });
  }
  return new PaypipeError('AWS', `${what} failed: ${name}: ${errorMessage(e)}`, {
    hint: 'check the network/region and try again (--debug shows details)',
    cause: e,
  });
}

/** Runs one query to the end; throws PaypipeError on failure, 'interrupted' on abort (after stopping it). */
export async function runAthenaQuery(client: AthenaClient, q: AthenaQuery): Promise<AthenaResult> {
  const sdk = await import('@aws-sdk/client-athena');
  const sleep = q.sleep ?? defaultSleep;
  const now = q.now ?? Date.now;
  const started = now();
  let id: string;
  try {
    const out = await client.send(
      new sdk.StartQueryExecutionCommand({
        QueryString: q.sql,
        WorkGroup: q.workGroup,
        QueryExecutionContext: { Database: q.database },
      }),
    );
    if (out.QueryExecutionId === undefined) throw new Error('no QueryExecutionId');
    id = out.QueryExecutionId;
  } catch (e) {
    throw awsError(e, `StartQueryExecution in workgroup ${q.workGroup}`);
  }
  let wait = q.pollMs ?? 250;
  let bytes = 0;
  for (;;) {
    if (q.signal?.aborted === true) {
      // Stop it: a query left running keeps scanning (and billing) after we are gone.
      await client.send(new sdk.StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      throw new PaypipeError('INTERRUPTED', `query ${id} stopped (interrupted)`, {
        details: { queryExecutionId: id, bytesScanned: bytes },
      });
    }
    let ex: GetQueryExecutionCommandOutput;
    try {
      ex = await client.send(new sdk.GetQueryExecutionCommand({ QueryExecutionId: id }));
    } catch (e) {
      throw awsError(e, `GetQueryExecution ${id}`);
    }
    const status = ex.QueryExecution?.Status;
    const state = status?.State ?? 'QUEUED';
    bytes = ex.QueryExecution?.Statistics?.DataScannedInBytes ?? bytes;
    q.onProgress?.({ state, bytesScanned: bytes, costUsd: scanCostUsd(bytes), elapsedMs: now() - started });
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      const reason = status?.AthenaError?.ErrorMessage ?? status?.StateChangeReason ?? state;
      const userError = status?.AthenaError?.ErrorCategory === 2;
      throw new PaypipeError(
        userError ? 'USAGE' : 'AWS',
        `Athena query ${id} ${state.toLowerCase()}: ${reason.replace(/\s+/g, ' ').trim()}`,
        {
          hint: userError
            ? 'fix the SQL (tables: raw_events, raw_lines, batch_outputs, dead_letters; docs/query.md)'
            : 'see the query in the Athena console (workgroup, query id) or try again',
          details: { queryExecutionId: id, state, bytesScanned: bytes },
        },
      );
    }
    await sleep(wait, q.signal);
    wait = Math.min(2000, Math.ceil(wait * 1.5));
  }
  const columns: AthenaResult['columns'] = [];
  const rows: AthenaResult['rows'] = [];
  let first = true;
  try {
    for await (const page of sdk.paginateGetQueryResults({ client }, { QueryExecutionId: id })) {
      if (columns.length === 0) {
        for (const c of page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []) {
          columns.push({ name: c.Name ?? c.Label ?? '', type: c.Type ?? '' });
        }
      }
      for (const r of page.ResultSet?.Rows ?? []) {
        // The first row of a SELECT's first page is the header.
        if (first) {
          first = false;
          const names = (r.Data ?? []).map((d) => d.VarCharValue);
          if (names.length === columns.length && names.every((n, i) => n === columns[i]?.name)) continue;
        }
        const row: Record<string, string | null> = {};
        (r.Data ?? []).forEach((d, i) => {
          row[columns[i]?.name ?? `_${i}`] = d.VarCharValue ?? null;
        });
        rows.push(row);
      }
    }
  } catch (e) {
    throw awsError(e, `GetQueryResults ${id}`);
  }
  return {
    queryExecutionId: id,
    columns,
    rows,
    bytesScanned: bytes,
    costUsd: scanCostUsd(bytes),
    elapsedMs: now() - started,
  };
}
