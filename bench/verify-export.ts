/* ---------------------------------------------------------------------------
 * bench/verify-export: the offline verifier (`steward audit verify`) on a large export,
 * without a database: writes a format 2 export of N chained events (a signed checkpoint at
 * the head, as an hourly checkpoint leaves it), then verifies it with the decoding verifier
 * (up to 200,000 events), the byte verifier on one thread, and on every core.
 *   npm run bench:verify-export [-- --events 1000000 --keep]
 * Prints a Markdown table of rates measured in the same run. The file (~730 bytes an
 * event) goes to the system's temporary folder and is removed unless --keep.
 * ------------------------------------------------------------------------- */
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { checkpointPayload, GENESIS_HASH, hashEvent, keyIdOf, type ChainedFields } from "../server/audit/chain";
import { keyRing, parseExport, verifyExport } from "../server/audit/verify";
import { exportEventLine, verifyExportBytes } from "../server/audit/verify-bytes";
import { verifyExportFile } from "../server/audit/verify-parallel";

const { values } = parseArgs({ options: { events: { type: "string", default: "1000000" }, keep: { type: "boolean", default: false } } });
const N = Number(values.events);
if (!Number.isInteger(N) || N < 1) throw new Error(`--events must be a positive whole number, got "${values.events}"`);

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyId = keyIdOf(publicKey);
const keys = keyRing([publicKey]);
const WS = "7f1c2a9e-0000-4000-8000-000000000001";
const file = path.join(os.tmpdir(), `steward-verify-bench-${process.pid}.ndjson`);

// Write the export: events like the registry's (uuids, an e-mail, metadata with a sha256).
const out = fs.openSync(file, "w");
fs.writeSync(out, `${JSON.stringify({ type: "header", format: "steward-audit-export", version: 2, workspaceId: WS })}\n`);
let prev = GENESIS_HASH;
let batch: string[] = [];
const t0 = performance.now();
for (let seq = 1; seq <= N; seq++) {
  const f: ChainedFields = {
    workspaceId: WS,
    seq,
    prevHash: prev,
    occurredAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000),
    actorType: "user",
    actorId: "7f1c2a9e-0000-4000-8000-000000000002",
    actorLabel: "grace@demo.steward.local",
    action: seq % 3 ? "model.version_registered" : "review.signed",
    targetType: "model_version",
    targetId: `7f1c2a9e-0000-4000-8000-${String(seq).padStart(12, "0")}`,
    changes: null,
    metadata: { model: "credit-risk", version: seq, sha256: createHash("sha256").update(String(seq)).digest("hex") },
    requestId: `req-${seq}`,
  };
  const hash = hashEvent(f);
  batch.push(exportEventLine({ ...f, hash, signature: null, keyId: null }));
  prev = hash;
  if (batch.length === 10_000 || seq === N) {
    fs.writeSync(out, `${batch.join("\n")}\n`);
    batch = [];
  }
}
const c = { workspaceId: WS, seq: N, headHash: prev, signedAt: new Date().toISOString(), keyId };
fs.writeSync(
  out,
  `${JSON.stringify({ type: "checkpoint", ...c, signature: sign(null, Buffer.from(checkpointPayload(c, 2)), privateKey).toString("base64") })}\n`,
);
fs.closeSync(out);
const bytes = fs.statSync(file).size;
console.log(`wrote ${N.toLocaleString("en-US")} events, ${(bytes / 1e6).toFixed(0)} MB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const rate = (ms: number) => Math.round(N / (ms / 1000)).toLocaleString("en-US");
const rows: string[] = [];
async function measure(label: string, f: () => Promise<{ intact: boolean }> | { intact: boolean }) {
  const t = performance.now();
  const r = await f();
  const ms = performance.now() - t;
  if (!r.intact) throw new Error(`${label}: the bench export did not verify`);
  rows.push(`| ${label} | ${(ms / 1000).toFixed(2)} | ${rate(ms)} |`);
}
try {
  if (N <= 200_000)
    await measure("decoding verifier (every event parsed and re-encoded), file read included", () => {
      const parsed = parseExport(fs.readFileSync(file, "utf8"));
      return verifyExport(parsed.events, parsed.checkpoints, keys);
    });
  const inMemory = fs.readFileSync(file);
  await measure("byte verifier, one thread, in memory", () => verifyExportBytes(inMemory, keys).report);
  await measure("`steward audit verify --threads 1` (file read included)", async () => (await verifyExportFile(file, keys, undefined, { threads: 1 })).report);
  const cores = os.availableParallelism();
  if (cores > 1)
    await measure(`\`steward audit verify --threads ${cores}\` (file read included)`, async () => {
      const r = await verifyExportFile(file, keys, undefined, { threads: cores, minBytes: 0 });
      return r.report;
    });
  console.log("");
  console.log(`| verifying ${N.toLocaleString("en-US")} events (${(bytes / 1e6).toFixed(0)} MB), ${cores} cores | seconds | events/s |`);
  console.log("|---|---:|---:|");
  for (const r of rows) console.log(r);
} finally {
  if (!values.keep) fs.rmSync(file, { force: true });
  else console.log(`\nkept ${file}`);
}
