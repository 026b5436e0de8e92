/**
 * The archive as query tables: a Glue database with one table per entry of src/pipeline/tables.ts
 * (columns, SerDe, location and partition projection all from there, so the stack, the embedded
 * engine and the SQL agree), and an Athena workgroup with its own encrypted results bucket, a
 * per-query scan limit from the configuration and its settings enforced on every query.
 *
 * Partitions are projected from the Firehose prefixes (no crawler, no MSCK REPAIR): a new hour is
 * queryable the moment Firehose writes it. Glue and Athena resources are L1 (CfnTable,
 * CfnWorkGroup): the L2 table cannot state SerDe parameters, and Athena has no L2.
 */
import { Aws, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { privateBucketProps } from './private-bucket.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { type QueryTable, type TableName, TABLE_NAMES, queryTables } from '../pipeline/tables.js';

export interface QueryTablesProps {
  readonly config: PipelineConfig;
  readonly buckets: { readonly raw: s3.IBucket; readonly analytics: s3.IBucket };
  /** The environment's customer-managed key, when `kms` is on: results are encrypted with it. */
  readonly key: kms.IKey | undefined;
  readonly accessLogsBucket: s3.IBucket;
  readonly removalPolicy: RemovalPolicy;
  readonly autoDeleteObjects: boolean;
}

/** Where Athena writes query results in the results bucket. */
export const RESULTS_PREFIX = 'results/';

export class QueryTables extends Construct {
  readonly database: glue.CfnDatabase;
  readonly tables: Readonly<Record<TableName, glue.CfnTable>>;
  readonly workGroup: athena.CfnWorkGroup;
  readonly resultsBucket: s3.Bucket;
  /** The Glue database name (a plain string: it is derived from the stack name, not generated). */
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: QueryTablesProps) {
    super(scope, id);
    const { config, key } = props;
    const description = queryTables(config);
    this.databaseName = description.database;

    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: description.database,
        description: `paypipe ${config.stackName}: the raw archive, batch outputs and dead letters (partition projection)`,
      },
    });

    const tables = {} as Record<TableName, glue.CfnTable>;
    for (const name of TABLE_NAMES) {
      const t = description.tables[name];
      const bucketName = props.buckets[t.bucket].bucketName;
      const table = new glue.CfnTable(this, tableId(name), {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: description.database,
        tableInput: tableInput(t, bucketName),
      });
      // The name is a plain string, not a Ref: say the order explicitly.
      table.node.addDependency(this.database);
      tables[name] = table;
    }
    this.tables = tables;

    // Query results can hold payment data: encrypted like the data buckets, private, TLS only,
    // logged, and kept only as long as a person needs to look at them.
    this.resultsBucket = new s3.Bucket(this, 'ResultsBucket', {
      ...privateBucketProps(key, { bucket: props.accessLogsBucket, prefix: 'query-results/' }),
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(config.query.resultsExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.autoDeleteObjects,
    });
    this.resultsBucket.policy?.applyRemovalPolicy(props.removalPolicy);

    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: config.query.workGroupName,
      description: `paypipe ${config.stackName}: queries over the archive (paypipe query, reconcile, results)`,
      state: 'ENABLED',
      // A workgroup holding saved queries cannot be deleted otherwise; the stack owns it whole.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Every query runs with these settings, whatever the client asks for: results location
        // and encryption, the scan limit, the engine.
        enforceWorkGroupConfiguration: true,
        bytesScannedCutoffPerQuery: config.query.bytesScannedCutoffPerQuery,
        publishCloudWatchMetricsEnabled: true,
        requesterPaysEnabled: false,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: this.resultsBucket.s3UrlForObject(RESULTS_PREFIX),
          expectedBucketOwner: Aws.ACCOUNT_ID,
          encryptionConfiguration:
            key === undefined
              ? { encryptionOption: 'SSE_S3' }
              : { encryptionOption: 'SSE_KMS', kmsKey: key.keyArn },
        },
      },
    });
  }
}

/** `raw_events` → `RawEventsTable`. */
export function tableId(name: TableName): string {
  return `${name
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('')}Table`;
}

/** The Glue TableInput of one table of src/pipeline/tables.ts. */
export function tableInput(t: QueryTable, bucketName: string): glue.CfnTable.TableInputProperty {
  return {
    name: t.name,
    description: t.description,
    tableType: 'EXTERNAL_TABLE',
    parameters: { ...t.parameters(bucketName) },
    partitionKeys: t.partitionKeys.map((c) => ({ name: c.name, type: c.type, comment: c.comment })),
    storageDescriptor: {
      columns: t.columns.map((c) => ({ name: c.name, type: c.type, comment: c.comment })),
      location: t.location(bucketName),
      inputFormat: t.inputFormat,
      outputFormat: t.outputFormat,
      serdeInfo: { serializationLibrary: t.serde.library, parameters: { ...t.serde.parameters } },
    },
  };
}
