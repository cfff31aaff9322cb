import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";

process.env.DATABASE_URL = inject("databaseUrl");
process.env.AUTH_SECRET ??= "test-secret-test-secret-test-secret-0123";
process.env.NEXTAUTH_URL ??= "http://localhost:3000";
// Webhook tests post to receivers on loopback.
process.env.WEBHOOK_ALLOW_PRIVATE ??= "true";
process.env.ARTIFACT_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "steward-test-artifacts-"));
if (!process.env.AUDIT_SIGNING_KEY && !process.env.AUDIT_SIGNING_KEY_FILE) {
  process.env.AUDIT_SIGNING_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
