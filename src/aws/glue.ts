/** The Glue Data Catalog as paypipe reads it: does a query table exist, where does it read, how is it projected. */
import type { GlueClient } from '@aws-sdk/client-glue';

export type { GlueClient };

export interface GlueTableState {
  name: string;
  /** The table's S3 location (StorageDescriptor.Location). */
  location?: string | undefined;
  /** Table parameters: `projection.*`, `storage.location.template`, `classification`, … */
  parameters: Record<string, string>;
}

/** GetTable; a missing table (or database) is undefined, not an error. */
export async function getTable(
  glue: GlueClient,
  database: string,
  name: string,
): Promise<GlueTableState | undefined> {
  const { GetTableCommand } = await import('@aws-sdk/client-glue');
  try {
    const t = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table;
    if (t === undefined) return undefined;
    return { name, location: t.StorageDescriptor?.Location, parameters: { ...(t.Parameters ?? {}) } };
  } catch (e) {
    if ((e as { name?: unknown }).name === 'EntityNotFoundException') return undefined;
    throw e;
  }
}
