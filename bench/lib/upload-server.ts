/* ---------------------------------------------------------------------------
 * The REST API alone on a port, in its own process, for bench/upload.ts: the parent
 * measures this process's RSS while files go through it. Same handler as
 * app/api/v1/[...path]/route.ts (restEntry), streamed both ways as Next.js does.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

const { restEntry } = await import("../../server/web/rest/entry");
const handler = restEntry(async () => null);
const server = createServer((req, res) => {
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
  const r = new Request(`http://localhost${req.url}`, {
    method: req.method,
    headers: req.headers as Record<string, string>,
    body,
    duplex: "half",
  } as RequestInit);
  void handler(r).then((answer) => {
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    if (!answer.body) return res.end();
    Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>).pipe(res);
  });
});

const rss = () => {
  const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
  return kb ? Number(kb) * 1024 : process.memoryUsage().rss;
};
let peak = 0;
setInterval(() => (peak = Math.max(peak, rss())), 20).unref();
process.on("message", (m: { type: string }) => {
  if (m.type === "reset") {
    peak = rss();
    process.send!({ type: "rss", now: peak });
  }
  if (m.type === "peak") process.send!({ type: "rss", now: rss(), peak });
});
server.listen(0, "127.0.0.1", () => process.send!({ type: "ready", port: (server.address() as AddressInfo).port }));
process.on("disconnect", () => process.exit(0));
