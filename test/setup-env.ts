import { createHash, createPrivateKey } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";

process.env.DATABASE_URL = inject("databaseUrl");
process.env.AUTH_SECRET ??= "test-secret-test-secret-test-secret-0123";
process.env.NEXTAUTH_URL ??= "http://localhost:3000";
// Webhook tests post to receivers on loopback.
process.env.WEBHOOK_ALLOW_PRIVATE ??= "true";
// Test files share one database: pin the instance settings so one file changing them in
// Settings › Instance cannot refuse another's sign-ups, workspaces or command steps.
// server/instance/instance.int.test.ts unpins them for itself.
process.env.SIGNUP ??= "open";
process.env.WORKSPACE_CREATION ??= "anyone";
process.env.COMMAND_STEPS ??= "enabled";
process.env.ARTIFACT_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "steward-test-artifacts-"));
if (!process.env.AUDIT_SIGNING_KEY && !process.env.AUDIT_SIGNING_KEY_FILE) {
  // One fixed test key (an Ed25519 PKCS#8 from a constant seed), not a fresh one per run: a
  // test database kept between runs holds checkpoints signed earlier, and signing refuses
  // to build on a checkpoint whose key it does not know.
  const seed = createHash("sha256").update("steward test audit signing key").digest();
  process.env.AUDIT_SIGNING_KEY = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  })
    .export({ type: "pkcs8", format: "pem" })
    .toString();
}
