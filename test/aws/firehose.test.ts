import { DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDeliveryStream } from '../../src/aws/firehose.js';

const firehose = mockClient(FirehoseClient);
afterAll(() => firehose.restore());
const region = { region: 'ap-southeast-2' };

describe('firehose', () => {
  it('a missing delivery stream is a state, a failure description is kept, other errors propagate', async () => {
    const c = new FirehoseClient(region);
    firehose
      .on(DescribeDeliveryStreamCommand)
      .rejectsOnce(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException' }))
      .resolvesOnce({
        DeliveryStreamDescription: {
          DeliveryStreamName: 'f',
          DeliveryStreamARN: 'arn',
          DeliveryStreamStatus: 'ACTIVE',
          FailureDescription: { Type: 'KMS_ACCESS_DENIED', Details: 'role cannot use the key' },
          DeliveryStreamType: 'KinesisStreamAsSource',
          VersionId: '1',
          Destinations: [],
          HasMoreDestinations: false,
        },
      })
      .rejectsOnce(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    expect(await describeDeliveryStream(c, 'f')).toEqual({ name: 'f' });
    expect(await describeDeliveryStream(c, 'f')).toEqual({
      name: 'f',
      status: 'ACTIVE',
      failure: 'KMS_ACCESS_DENIED: role cannot use the key',
    });
    await expect(describeDeliveryStream(c, 'f')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});
