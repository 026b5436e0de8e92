/**
 * The settings every bucket that holds payment data shares (raw, analytics, query results):
 * encrypted with the environment's key when there is one, private, TLS only, logged. One place, so
 * a bucket added later cannot quietly miss one of them.
 */
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as kms from 'aws-cdk-lib/aws-kms';

export function privateBucketProps(
  key: kms.IKey | undefined,
  accessLogs: { bucket: s3.IBucket; prefix: string },
): s3.BucketProps {
  return {
    ...(key === undefined
      ? { encryption: s3.BucketEncryption.S3_MANAGED }
      : // Bucket keys: one KMS call per bucket key instead of per object (cost, KMS quotas).
        { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true }),
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogs.bucket,
    serverAccessLogsPrefix: accessLogs.prefix,
  };
}
