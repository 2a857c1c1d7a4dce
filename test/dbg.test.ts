import { test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { request } from 'undici';
import { createS3Client } from '/work/wt-redirect/src/cache/s3-client.js';
import { startRadosgw } from '/work/wt-redirect/test/support/radosgw.js';
test('dbg', { timeout: 120000 }, async () => {
  const rgw = await startRadosgw();
  const c = (endpoint: string) => createS3Client({ endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, forcePathStyle: true }, { connectMs: 2000, idleMs: 10000 });
  const s3 = c(rgw.endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: 'b1' }));
  await s3.send(new PutObjectCommand({ Bucket: 'b1', Key: 'x/y', Body: 'hello' }));
  for (const ep of [rgw.endpoint, rgw.endpoint.replace('127.0.0.1', 'localhost')]) {
    const url = await getSignedUrl(c(ep), new GetObjectCommand({ Bucket: 'b1', Key: 'x/y' }), { expiresIn: 600 });
    console.log(url);
    const res = await request(url);
    console.log(res.statusCode, await res.body.text());
  }
  const reqs = await rgw.requests();
  console.log(JSON.stringify(reqs.slice(-4)));
  const fs = await import('node:fs');
  console.log(fs.readFileSync(rgw.dir + '/log/client.rgw.log', 'utf8').split('\n').filter(l => l.includes('beast')).slice(-3).join('\n'));
  await rgw.stop();
});
