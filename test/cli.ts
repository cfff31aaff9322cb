import { spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { restEntry } from "~/server/web/rest/entry";

/**
 * The REST API on a real HTTP port (without the web UI), through the production entry
 * (restEntry), bodies streamed both ways. `onRequest`/`onAnswer` let a test watch the traffic
 * (bytes sent, offsets answered).
 */
export async function restServer(hooks: { onRequest?: (req: IncomingMessage) => void; onAnswer?: (req: IncomingMessage, answer: Response) => void } = {}) {
  const handler = restEntry(async () => null);
  const server = createServer((req, res) => {
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    const request = new Request(`http://localhost${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body,
      duplex: "half",
    } as RequestInit);
    hooks.onRequest?.(req);
    void handler(request).then((answer) => {
      hooks.onAnswer?.(req, answer);
      res.statusCode = answer.status;
      answer.headers.forEach((value, name) => res.appendHeader(name, value));
      if (!answer.body) return res.end();
      Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>).pipe(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The CLI as a child process in `dir` (its HOME and config), with `input` on its stdin; `onStderr` sees its standard error so far as it grows. */
export function runCli(dir: string, args: string[], env: Record<string, string> = {}, input?: string, hooks: { onStderr?: (sofar: string) => void } = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/steward.mjs"), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, STEWARD_CONFIG: path.join(dir, "config.json"), NODE_ENV: "production", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      hooks.onStderr?.(stderr);
    });
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}
