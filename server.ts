/* ---------------------------------------------------------------------------
 * The web process: one HTTP server for Next.js (pages, tRPC, next-auth) and
 * socket.io. Run by `npm start` (bin/start.ts) or on its own with `npm run start:web`.
 * ------------------------------------------------------------------------- */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import next from "next";
import { sql } from "drizzle-orm";
import { closeDb, configureDb, getDb } from "~/db/client";
import { env } from "~/env";
import { CLIENT_IP_HEADER } from "~/server/web/auth/constants";
import { attachRealtime } from "~/server/web/realtime/io";
import { restoreContentLength } from "~/server/web/rest/content-length";

// Before anything opens the pool: the web process's statements answer people (DB_STATEMENT_TIMEOUT_SECONDS).
configureDb({ statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_SECONDS * 1000 });

const dir = path.dirname(fileURLToPath(import.meta.url));
const dev = process.env.STEWARD_DEV === "1";
const app = next({ dev, dir, port: env.PORT, hostname: "localhost" });
const handle = app.getRequestHandler();
await app.prepare();

let draining = false;
const server = createServer((req, res) => {
  // The client IP used for rate limits: from the socket unless a trusted proxy is in front.
  const forwarded = env.TRUST_PROXY
    ? String(req.headers["x-forwarded-for"] ?? "")
        .split(",")[0]
        ?.trim()
    : "";
  req.headers[CLIENT_IP_HEADER] = forwarded || req.socket.remoteAddress || "unknown";
  if (!req.headers["x-request-id"]) req.headers["x-request-id"] = randomUUID();

  if (req.url === "/healthz" || req.url === "/readyz") {
    if (draining) {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, reason: "draining" }));
      return;
    }
    getDb()
      .execute(sql`select 1`)
      .then(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true })))
      .catch(() => res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, reason: "database" })));
    return;
  }
  if (draining) res.setHeader("connection", "close");
  if (req.url?.startsWith("/api/v1/")) restoreContentLength(res);
  void handle(req, res);
});

// Node's default gives a request 5 minutes to arrive in full: too short for a 2 GiB upload over
// an ordinary link. Headers still must arrive within headersTimeout (60 s).
server.requestTimeout = 60 * 60_000;

const realtime = attachRealtime(server);

server.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EADDRINUSE") {
    console.error(`[web] Port ${env.PORT} is already in use. Stop what uses it or set PORT to another port.`);
  } else {
    console.error("[web] server error:", err);
  }
  process.exit(1);
});

server.listen(env.PORT, () => {
  console.log(`[web] ready on http://localhost:${env.PORT}${dev ? " (dev)" : ""}`);
  process.send?.({ type: "ready", port: env.PORT });
});

async function shutdown(signal: string) {
  if (draining) return;
  draining = true;
  console.log(`[web] ${signal}: finishing in-flight requests…`);
  const force = setTimeout(() => {
    console.error("[web] in-flight requests did not finish within 10s; closing anyway");
    process.exit(1);
  }, 10_000);
  force.unref();
  // io.close() also stops the HTTP server from accepting; open requests complete.
  await realtime.close().catch(() => undefined);
  server.closeIdleConnections();
  await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  await (app as { close?: () => Promise<void> }).close?.().catch(() => undefined);
  await closeDb().catch(() => undefined);
  console.log("[web] stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("disconnect", () => void shutdown("supervisor gone"));
