import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, describe, expect, it } from 'vitest';
import { callerIdentity } from '../../src/aws/sts.js';

const sts = mockClient(STSClient);
afterAll(() => sts.restore());
const region = { region: 'ap-southeast-2' };

describe('sts', () => {
  it('the caller identity', async () => {
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '123', Arn: 'arn:aws:iam::123:user/a', UserId: 'x' });
    expect(await callerIdentity(new STSClient(region))).toEqual({
      account: '123',
      arn: 'arn:aws:iam::123:user/a',
    });
  });
});
