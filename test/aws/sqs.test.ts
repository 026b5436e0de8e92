/** src/aws/sqs.ts against a fake SQS (no local server implements it): the failure queue's depth. */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { queueDepth } from '../../src/aws/sqs.js';

const sqs = mockClient(SQSClient);
afterAll(() => sqs.restore());
const client = new SQSClient({ region: 'ap-southeast-2' });
const URL = 'https://sqs.ap-southeast-2.amazonaws.com/123456789012/paypipe-dev-failures';

describe('queueDepth', () => {
  it('is ApproximateNumberOfMessages as a number, asked for that attribute only', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '17' } });
    expect(await queueDepth(client, URL)).toBe(17);
    expect(sqs.commandCalls(GetQueueAttributesCommand)[0]?.args[0].input).toEqual({
      QueueUrl: URL,
      AttributeNames: ['ApproximateNumberOfMessages'],
    });
  });

  it('is undefined when SQS does not say (never NaN, never a made-up 0)', async () => {
    for (const Attributes of [undefined, {}, { ApproximateNumberOfMessages: 'many' }]) {
      sqs.reset();
      sqs.on(GetQueueAttributesCommand).resolves({ Attributes });
      expect(await queueDepth(client, URL)).toBeUndefined();
    }
  });
});
