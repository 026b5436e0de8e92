/** SQS as paypipe uses it: how many failed-batch records wait in the aggregator's failure queue. */
import type { SQSClient } from '@aws-sdk/client-sqs';

export type { SQSClient } from '@aws-sdk/client-sqs';

/** ApproximateNumberOfMessages of the queue; undefined when SQS does not say. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number | undefined> {
  const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  const n = Number(out.Attributes?.ApproximateNumberOfMessages ?? Number.NaN);
  return Number.isFinite(n) ? n : undefined;
}
