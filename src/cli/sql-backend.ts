/**
 * Where `paypipe query`, `paypipe reconcile` and a long `results` run their SQL: Athena in the
 * stack's workgroup on AWS, the embedded DuckDB over the local pipeline's objects with `--local`.
 * Both take the same SQL (src/pipeline/query-sql.ts, with its dialect) against the same table
 * names (src/pipeline/tables.ts). Shared by those features, so it lives beside io and target.
 */
import type { Dialect } from '../pipeline/query-sql.js';
import type { TimeRange } from '../pipeline/time-range.js';
import type { Io } from './io.js';
import type { TargetFlags } from './options.js';
import type { ResolvedTarget } from './target.js';

export interface SqlRows {
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, string | number | boolean | null>>;
  /** Athena: bytes scanned and their cost; local: bytes of objects fetched. */
  bytesScanned: number;
  costUsd?: number;
  queryExecutionId?: string;
}

export interface SqlBackend {
  engine: 'athena' | 'duckdb';
  dialect: Dialect;
  target: ResolvedTarget;
  /** Windows the pipeline aggregates into, ms. */
  windowMs: number;
  /** `userSql`: the statement is the user's (--sql), so its errors are usage errors. */
  run(sql: string, label: string, o?: { userSql?: boolean }): Promise<SqlRows>;
  close(): void;
}

export interface SqlBackendFlags extends TargetFlags {
  workgroup?: string;
  database?: string;
}

const mb = (b: number): string =>
  b >= 1e9
    ? `${(b / 1e9).toFixed(2)} GB`
    : b >= 1e6
      ? `${(b / 1e6).toFixed(1)} MB`
      : `${(b / 1e3).toFixed(1)} kB`;

/**
 * Opens the backend for the flags' target. `hours`: the arrival hours the SQL will read (the local
 * engine fetches only those objects; Athena prunes by the partition predicate in the SQL itself).
 */
export async function openSqlBackend(flags: SqlBackendFlags, io: Io, hours?: TimeRange): Promise<SqlBackend> {
  const { resolveTarget } = await import('./target.js');
  const target = await resolveTarget(flags, { need: ['rawBucket', 'analyticsBucket'] });
  const windowMs = target.config.aggregator.windowSeconds * 1000;
  const { queryTables } = await import('../pipeline/tables.js');
  const tables = queryTables(target.config);

  if (target.kind === 'local') {
    const { s3Client } = await import('../aws/clients.js');
    const { openLocalEngine } = await import('../local/query-engine.js');
    const { interruptSignal } = await import('./interrupt.js');
    const { PaypipeError } = await import('../errors.js');
    // Ctrl-C from here to close(): stop the fetch or the query, then close() removes the temporary
    // copy of the payment data (the callers close in finally), and the command ends as interrupted.
    const interrupt = interruptSignal();
    const interrupted = (e: unknown): InstanceType<typeof PaypipeError> =>
      new PaypipeError('INTERRUPTED', 'the query stopped (interrupted); its temporary files are removed', {
        cause: e,
      });
    const s3 = await s3Client(target.clientTarget);
    const spinner = await io.spinner('Fetching the local archive for the embedded engine…');
    let engine: Awaited<ReturnType<typeof openLocalEngine>>;
    try {
      engine = await openLocalEngine({
        s3,
        buckets: { raw: target.names.rawBucket, analytics: target.names.analyticsBucket },
        tables,
        ...(hours === undefined ? {} : { hours }),
        signal: interrupt.signal,
        onObject: (done, total) => spinner.update(`Fetching the local archive: ${done}/${total} objects…`),
      });
      spinner.succeed(
        `Local archive: ${engine.loaded.objects} objects, ${mb(engine.loaded.bytes)} (embedded DuckDB)`,
      );
    } catch (e) {
      spinner.fail('Fetching the local archive failed');
      interrupt.dispose();
      throw interrupt.signal.aborted ? interrupted(e) : e;
    } finally {
      s3.destroy();
    }
    const open = engine;
    // DuckDB's interrupt only stops a statement that is executing: a Ctrl-C that lands between
    // run() being called and the statement starting on DuckDB's thread would be lost, and the query
    // would run on. So once aborted, interrupt again every 50 ms until the running query settles.
    let repeating: NodeJS.Timeout | undefined;
    const stop = (): void => {
      open.interrupt();
      repeating ??= setInterval(() => open.interrupt(), 50);
    };
    interrupt.signal.addEventListener('abort', stop, { once: true });
    return {
      engine: 'duckdb',
      dialect: 'duckdb',
      target,
      windowMs,
      async run(sql: string, label: string, ro: { userSql?: boolean } = {}): Promise<SqlRows> {
        io.debugLog(`${label}:\n${sql}`);
        if (interrupt.signal.aborted) throw interrupted(interrupt.signal.reason);
        try {
          const r = await open.query(sql, ro);
          if (interrupt.signal.aborted) throw interrupted(interrupt.signal.reason);
          return { ...r, bytesScanned: open.loaded.bytes };
        } catch (e) {
          throw interrupt.signal.aborted ? interrupted(e) : e;
        } finally {
          clearInterval(repeating);
          repeating = undefined;
        }
      },
      close: () => {
        clearInterval(repeating);
        interrupt.signal.removeEventListener('abort', stop);
        interrupt.dispose();
        open.close();
      },
    };
  }

  const { readStackOutputs } = await import('../aws/cloudformation.js');
  const { PaypipeError } = await import('../errors.js');
  let database = flags.database;
  let workGroup = flags.workgroup;
  if (database === undefined || workGroup === undefined) {
    const out = await readStackOutputs(
      {
        stackName: target.stackName,
        region: target.region,
        profile: target.profile,
        endpoints: target.clientTarget.endpoints,
      },
      [],
    );
    database ??= out.GlueDatabaseName;
    workGroup ??= out.AthenaWorkGroupName;
  }
  if (database === undefined || workGroup === undefined) {
    throw new PaypipeError(
      'STACK_INCOMPLETE',
      `stack ${target.stackName} has no query tables (outputs GlueDatabaseName and AthenaWorkGroupName)`,
      { hint: 'deploy this version of the stack (`paypipe deploy`), or pass --database and --workgroup' },
    );
  }
  const { awsOnlyClients } = await import('../aws/clients.js');
  const { runAthenaQuery } = await import('../aws/athena.js');
  const { interruptSignal } = await import('./interrupt.js');
  const athena = await (await awsOnlyClients(target.clientTarget)).athena();
  const db = database;
  const wg = workGroup;
  return {
    engine: 'athena',
    dialect: 'trino',
    target,
    windowMs,
    async run(sql: string, label: string): Promise<SqlRows> {
      io.debugLog(`${label}:\n${sql}`);
      const interrupt = interruptSignal();
      const spinner = await io.spinner(`Athena (${wg}): ${label}…`);
      try {
        const r = await runAthenaQuery(athena, {
          sql,
          workGroup: wg,
          database: db,
          signal: interrupt.signal,
          onProgress: (p) =>
            spinner.update(
              `Athena (${wg}): ${label}: ${p.state.toLowerCase()}, ${mb(p.bytesScanned)} scanned ($${p.costUsd.toFixed(4)}), ${(p.elapsedMs / 1000).toFixed(0)} s`,
            ),
        });
        spinner.succeed(
          `Athena (${wg}): ${label}: ${mb(r.bytesScanned)} scanned ($${r.costUsd.toFixed(4)} at $5/TB), ${(r.elapsedMs / 1000).toFixed(1)} s, query ${r.queryExecutionId}`,
        );
        return {
          columns: r.columns,
          rows: r.rows,
          bytesScanned: r.bytesScanned,
          costUsd: r.costUsd,
          queryExecutionId: r.queryExecutionId,
        };
      } catch (e) {
        spinner.fail(`Athena (${wg}): ${label} did not finish`);
        throw e;
      } finally {
        interrupt.dispose();
      }
    },
    close: () => athena.destroy(),
  };
}
