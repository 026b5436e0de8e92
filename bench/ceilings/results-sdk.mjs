// The ceiling for `paypipe results`: what a competent engineer writes in an afternoon with the bare
// AWS SDK — ListObjectsV2 paginator over the same hour prefixes, GetObject at the same concurrency,
// gunzip, JSON.parse per line, one Map per (window, currency). No validation, no merge rule, no
// damage handling: the floor paypipe's guarantees are measured against.
// Usage: node results-sdk.mjs '<json: {endpoint, region, bucket, prefixes, concurrency}>'
// Prints {objects, records, cells, byCurrency: {C: {count, totalMinor}}} on stdout.
import { GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { gunzipSync } from 'node:zlib';

const o = JSON.parse(process.argv[2]);
const s3 = new S3Client({
  region: o.region,
  endpoint: o.endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const keys = [];
for (const prefix of o.prefixes) {
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: o.bucket, Prefix: prefix })) {
    for (const c of page.Contents ?? []) keys.push(c.Key);
  }
}
// Exponents of the currencies in the bench data (ISO 4217); exact enough for the output check.
const EXP = { JPY: 0, BHD: 3, KWD: 3 };
const cells = new Map();
let records = 0;
let next = 0;
await Promise.all(
  Array.from({ length: o.concurrency }, async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const res = await s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: key }));
      const text = gunzipSync(await res.Body.transformToByteArray()).toString('utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        records++;
        for (const a of JSON.parse(line).aggregates) {
          const k = `${a.window_start}|${a.currency}`;
          const scale = 10 ** (EXP[a.currency] ?? 2);
          const c = cells.get(k);
          if (c === undefined) {
            cells.set(k, {
              currency: a.currency,
              count: a.transaction_count,
              totalMinor: Math.round(a.total_amount * scale),
            });
          } else {
            c.count += a.transaction_count;
            c.totalMinor += Math.round(a.total_amount * scale);
          }
        }
      }
    }
  }),
);
s3.destroy();
const byCurrency = {};
for (const c of cells.values()) {
  byCurrency[c.currency] ??= { count: 0, totalMinor: 0 };
  const t = byCurrency[c.currency];
  t.count += c.count;
  t.totalMinor += c.totalMinor;
}
process.stdout.write(JSON.stringify({ objects: keys.length, records, cells: cells.size, byCurrency }));
