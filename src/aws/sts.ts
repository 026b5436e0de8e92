/** STS as paypipe uses it: who the credentials belong to (account for ARNs, identity for doctor). */
import type { STSClient } from '@aws-sdk/client-sts';

export type { STSClient } from '@aws-sdk/client-sts';

export interface CallerIdentity {
  account: string | undefined;
  arn: string | undefined;
}

/** GetCallerIdentity (needs no permission: it fails only for missing or invalid credentials). */
export async function callerIdentity(sts: STSClient): Promise<CallerIdentity> {
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const id = await sts.send(new GetCallerIdentityCommand({}));
  return { account: id.Account, arn: id.Arn };
}
