/** Firehose as paypipe uses it: is a delivery stream there, active, and free of delivery failures. */
import type { FirehoseClient } from '@aws-sdk/client-firehose';

export interface DeliveryStreamState {
  name: string;
  /** CREATING, ACTIVE, DELETING, CREATING_FAILED, ...; undefined when the stream does not exist. */
  status?: string | undefined;
  /** FailureDescription as `Type: Details` (e.g. a KMS key or role Firehose cannot use). */
  failure?: string | undefined;
}

/** DescribeDeliveryStream; a missing stream is a state (no status), not an error. */
export async function describeDeliveryStream(
  firehose: FirehoseClient,
  name: string,
): Promise<DeliveryStreamState> {
  const { DescribeDeliveryStreamCommand } = await import('@aws-sdk/client-firehose');
  try {
    const d = (await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name })))
      .DeliveryStreamDescription;
    const f = d?.FailureDescription;
    return {
      name,
      status: d?.DeliveryStreamStatus,
      failure: f === undefined ? undefined : `${f.Type}: ${f.Details}`,
    };
  } catch (e) {
    if ((e as { name?: unknown }).name === 'ResourceNotFoundException') return { name };
    throw e;
  }
}
