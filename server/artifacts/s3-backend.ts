import "server-only";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { DeleteObjectCommand, HeadObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { checkObjectKey, type BlobBackend } from "./store";

/**
 * Blobs in an S3-compatible bucket at <prefix>/sha256/<aa>/<hash>. Credentials come from
 * the AWS SDK's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, instance roles…).
 * Checksums are only sent when required, so S3-compatible servers that do not speak
 * aws-chunked uploads store the bytes as sent.
 */
export function s3Backend(url: string, opts: { endpoint?: string; region: string; forcePathStyle?: boolean }): BlobBackend {
  const u = new URL(url);
  const bucket = u.hostname;
  const prefix = u.pathname.replace(/^\/+|\/+$/g, "");
  const key = (sha: string) => [prefix, "sha256", sha.slice(0, 2), sha].filter(Boolean).join("/");
  const named = (k: string) => [prefix, checkObjectKey(k)].filter(Boolean).join("/");
  const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const getNamed = async (k: string) => {
    try {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: named(k) }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      if (status(err) === 404 || (err as { name?: string }).name === "NoSuchKey") return null;
      throw err;
    }
  };
  const client = new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle ?? Boolean(opts.endpoint),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const exists = async (sha: string) => {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(sha) }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
  };
  return {
    kind: "s3",
    async put(staged) {
      if (await exists(staged.sha256)) return { created: false };
      // Multipart for large files, one PUT for small ones; streamed from the staging file.
      await new Upload({
        client,
        params: { Bucket: bucket, Key: key(staged.sha256), Body: createReadStream(staged.path), ContentType: "application/octet-stream" },
        queueSize: 2,
        partSize: 16 * 1024 * 1024,
      }).done();
      return { created: true };
    },
    async remove(sha) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(sha) }));
    },
    async open(sha, range) {
      const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(sha), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      return r.Body as Readable;
    },
    async putOnce(k, body) {
      const existing = await getNamed(k);
      if (existing) return { created: false, existing };
      try {
        // If-None-Match: a bucket that supports conditional writes refuses to replace the key even in a race.
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: named(k), Body: body, ContentType: "application/json", IfNoneMatch: "*" }));
        return { created: true };
      } catch (err) {
        if (status(err) === 412) return { created: false, existing: (await getNamed(k)) ?? undefined };
        throw err;
      }
    },
    get: getNamed,
    async list(p, startAfter) {
      const keys: string[] = [];
      const strip = prefix ? prefix.length + 1 : 0;
      let token: string | undefined;
      do {
        const r = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: named(p.replace(/\/$/, "")) + "/",
            StartAfter: startAfter ? named(startAfter) : undefined,
            ContinuationToken: token,
          }),
        );
        for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key.slice(strip));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
  };
}
