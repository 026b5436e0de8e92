/**
 * SQS as paypipe uses it: the aggregator's failure queue — how many failed-batch records wait in
 * it (doctor, dead-letters), and reading them all, deleting the replayed ones and handing the
 * others back (redrive).
 */
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

export interface QueuedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
}

/**
 * Every message in the queue, received (so hidden from other consumers) for `visibilitySeconds`.
 * Long polling (1 s) asks every SQS server, so an empty answer means the queue is drained; a
 * message seen twice (its visibility ran out meanwhile) is kept once.
 */
export async function receiveAllMessages(
  sqs: SQSClient,
  queueUrl: string,
  visibilitySeconds: number,
  max = 10_000,
): Promise<QueuedMessage[]> {
  const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
  const seen = new Map<string, QueuedMessage>();
  while (seen.size < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: visibilitySeconds,
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    let fresh = 0;
    for (const m of messages) {
      if (m.MessageId === undefined || m.ReceiptHandle === undefined) continue;
      if (!seen.has(m.MessageId)) fresh++;
      seen.set(m.MessageId, { messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body ?? '' });
    }
    // Only repeats: their visibility ran out while we were receiving; everything has been seen.
    if (fresh === 0) break;
  }
  return [...seen.values()];
}

export async function deleteMessage(sqs: SQSClient, queueUrl: string, receiptHandle: string): Promise<void> {
  const { DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
}

/** Makes received messages visible again at once (a dry run, or messages that were not handled). */
export async function releaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly QueuedMessage[],
): Promise<void> {
  const { ChangeMessageVisibilityBatchCommand } = await import('@aws-sdk/client-sqs');
  for (let i = 0; i < messages.length; i += 10) {
    const page = messages.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: page.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}
