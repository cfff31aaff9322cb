import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkpointPayload, eventSignaturePayload, GENESIS_HASH, hashEvent, keyIdOf, type ChainedFields } from "./chain";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { exportEventLine, verifyExportBytes } from "./verify-bytes";
import { verifyExportFile } from "./verify-parallel";
import { keyRing, parseExport, verifyExport, type PublishedCheckpoint } from "./verify";

/*
 * The fast path reads format 2 exports without decoding events; it must say exactly what the
 * decoding verifier says (same verdict, same first problem, same counts) on intact exports and
 * on every kind of tampering, since auditors read its words.
 */

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyId = keyIdOf(publicKey);
const keys = keyRing([publicKey]);
const WS = "7f1c2a9e-0000-4000-8000-000000000001";

type Ev = ChainedFields & { hash: string; signature: string | null; keyId: string | null };

/** A chain of `n` events whose metadata holds the awkward things: nested "seq"/"prevHash" keys, quotes, unicode. */
function chain(n: number, from = 1, prev = GENESIS_HASH, label?: string): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < n; i++) {
    const seq = from + i;
    const fields: ChainedFields = {
      workspaceId: WS,
      seq,
      prevHash: prev,
      occurredAt: new Date(Date.UTC(2026, 10, 1) + seq * 1000),
      actorType: "user",
      actorId: null,
      actorLabel: label ?? (i % 3 ? `user${i}@example.com` : null),
      action: i % 2 ? "model.version_registered" : "review.signed",
      targetType: "model",
      targetId: `m-${seq}`,
      changes: i % 4 === 0 ? { name: ["a", "b"] } : null,
      metadata: { note: `said "hi" ,"seq":999 ,"prevHash":"${"f".repeat(64)}" ü ✓`, nested: { seq: 1e6, prevHash: "x" }, n: i },
      requestId: i % 5 ? `req-${seq}` : null,
    };
    const hash = hashEvent(fields);
    const signature = sign(null, eventSignaturePayload(hash), privateKey).toString("base64");
    out.push({ ...fields, hash, signature, keyId });
    prev = hash;
  }
  return out;
}

function checkpoint(e: Ev) {
  const c = { workspaceId: WS, seq: e.seq, headHash: e.hash, signedAt: "2026-11-30T12:00:00.000Z", keyId };
  return { ...c, signature: sign(null, Buffer.from(checkpointPayload(c, 2)), privateKey).toString("base64") };
}

function exportText(events: Ev[], checkpoints: ReturnType<typeof checkpoint>[], lines?: (ls: string[]) => string[]) {
  let evLines = events.map((e) => exportEventLine(e));
  if (lines) evLines = lines(evLines);
  return [
    JSON.stringify({ type: "header", format: "steward-audit-export", version: 2, workspaceId: WS }),
    ...evLines,
    ...checkpoints.map((c) => JSON.stringify({ type: "checkpoint", ...c })),
  ].join("\n");
}

/** Both verifiers on the same text. */
function both(text: string, published?: PublishedCheckpoint[]) {
  const fast = verifyExportBytes(Buffer.from(text), keys, published);
  const parsed = parseExport(text);
  const slow = verifyExport(parsed.events, parsed.checkpoints, keys, published);
  return { fast, slow };
}

describe("verifyExportBytes (format 2)", () => {
  const events = chain(60);
  const cp = checkpoint(events[39]!);

  it("agrees with verifyExport on an intact export, and reads it without decoding events", () => {
    const { fast, slow } = both(exportText(events, [cp]));
    expect(fast.format).toBe(2);
    expect(fast.report).toEqual(slow);
    expect(fast.report).toMatchObject({ intact: true, complete: true, events: 60, checkpointsVerified: 1 });
    // parseExport reads format 2 into the same events the server holds.
    expect(parseExport(exportText(events, [cp])).events[7]).toEqual({ ...events[7], occurredAt: events[7]!.occurredAt.toISOString() });
  });

  const cases: [string, (ls: string[]) => string[]][] = [
    ["a changed byte inside an event's content", (ls) => ls.map((l, i) => (i === 12 ? l.replace('"n":12', '"n":13') : l))],
    ["content re-hashed by a forger without the key", (ls) => ls.map((l, i) => (i === 50 ? forge(l) : l))],
    ["an event removed", (ls) => ls.filter((_, i) => i !== 20)],
    ["two events swapped", (ls) => ls.map((l, i) => (i === 30 ? ls[31]! : i === 31 ? ls[30]! : l))],
    ["an event duplicated", (ls) => [...ls.slice(0, 10), ls[9]!, ...ls.slice(10)]],
    ["the tail cut below the checkpoint", (ls) => ls.slice(0, 35)],
    [
      "a signature stripped after the checkpoint",
      (ls) => ls.map((l, i) => (i === 45 ? l.replace(/"signature":"[^"]+","keyId":"[^"]+"/, '"signature":null,"keyId":null') : l)),
    ],
    ["a filtered selection (events 11–30)", (ls) => ls.slice(10, 30)],
    [
      "a filtered selection with one event altered",
      (ls) => ls.slice(10, 30).map((l, i) => (i === 5 ? l.replace('"targetType":"model"', '"targetType":"modek"') : l)),
    ],
  ];
  for (const [what, tamper] of cases)
    it(`agrees with verifyExport on ${what}`, () => {
      const { fast, slow } = both(exportText(events, [cp], tamper));
      expect(fast.format).toBe(2);
      expect(fast.report).toEqual(slow);
      if (!what.startsWith("a filtered selection (")) expect(fast.report.intact, what).toBe(false);
    });

  it("agrees on a forged checkpoint and on published heads, good and rewritten", () => {
    const forged = { ...cp, headHash: "a".repeat(64) };
    let r = both(exportText(events, [forged]));
    expect(r.fast.report).toEqual(r.slow);
    expect(r.fast.report.intact).toBe(false);
    const published = [{ ...checkpoint(events[19]!) }, { ...cp }];
    r = both(exportText(events, [cp]), published);
    expect(r.fast.report).toEqual(r.slow);
    expect(r.fast.report).toMatchObject({ intact: true, publishedVerified: 2 });
    // A chain rewritten from #15 on, every hash recomputed and the in-database checkpoint dropped: the published head at #20 says so.
    const rewritten = [...events.slice(0, 14), ...chain(46, 15, events[13]!.hash, "someone else")];
    r = both(exportText(rewritten, []), published);
    expect(r.fast.report).toEqual(r.slow);
    expect(r.fast.report.problem?.reason).toMatch(/does not match the checkpoint published/);
  });

  it("on worker threads, says what one thread says: intact, tampered in a block or across a block boundary, filtered, with published heads", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-par-"));
    const published = [checkpoint(events[19]!), cp];
    const variants: [string, string, PublishedCheckpoint[]?][] = [
      ["intact", exportText(events, [cp]), published],
      ...cases.map(([what, tamper]): [string, string] => [what, exportText(events, [cp], tamper)]),
      // Around the middle of the file, where two threads split it, and the thirds where three do.
      ...[19, 29, 30, 39].map((i): [string, string] => [
        `#${i + 1} and #${i + 2} swapped`,
        exportText(events, [cp], (ls) => ls.map((l, j) => (j === i ? ls[i + 1]! : j === i + 1 ? ls[i]! : l))),
      ]),
      ...[20, 30, 40].map((i): [string, string] => [`#${i + 1} removed`, exportText(events, [cp], (ls) => ls.filter((_, j) => j !== i))]),
      ...[29, 30].map((i): [string, string] => [
        `#${i + 1} altered`,
        exportText(events, [cp], (ls) => ls.map((l, j) => (j === i ? l.replace('"targetType":"model"', '"targetType":"modek"') : l))),
      ]),
    ];
    try {
      for (const [what, text, pub] of variants) {
        const file = path.join(dir, "export.ndjson");
        fs.writeFileSync(file, text);
        const one = verifyExportBytes(Buffer.from(text), keys, pub);
        for (const threads of [2, 3]) {
          const par = await verifyExportFile(file, keys, pub, { threads, minBytes: 0 });
          expect(par.threads, what).toBe(threads);
          expect(par.report, `${what}, ${threads} threads`).toEqual(one.report);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("never calls intact a line carrying what no hash covers, on the fast path or the decoding one", () => {
    const covered = 2; // event #3, under the checkpoint at #40
    const variants: [string, (ls: string[]) => string[]][] = [
      ["a member added inside the hashed content", (ls) => ls.map((l, i) => (i === covered ? l.replace(/}}$/, ',"approvedBy":"ceo"}}') : l))],
      ["a member added beside it", (ls) => ls.map((l, i) => (i === covered ? l.replace(/}$/, ',"approvedBy":"ceo"}') : l))],
      [
        "a line naming another seq than its content",
        (ls) => ls.map((l, i) => (i === covered ? l.replace('{"type":"event","seq":3,', '{"type":"event","seq":42,') : l)),
      ],
      [
        "the content re-encoded (same values, other bytes)",
        (ls) => ls.map((l, i) => (i === covered ? l.replace('"targetType":"model"', '"targetType": "model"') : l)),
      ],
    ];
    for (const [what, tamper] of variants)
      for (const forceDecoding of [false, true]) {
        // A line holding only a tab is not format 2 as the export writes it: the decoding verifier reads the file.
        const text = exportText(events, [cp], (ls) => (forceDecoding ? [...tamper(ls).slice(0, 5), "\t", ...tamper(ls).slice(5)] : tamper(ls)));
        const label = `${what}${forceDecoding ? ", decoding verifier" : ""}`;
        let verdict: string;
        try {
          const r = verifyExportBytes(Buffer.from(text), keys);
          verdict = r.report.intact ? "intact" : `broken: ${r.report.problem!.reason}`;
        } catch (err) {
          verdict = `refused: ${(err as Error).message}`;
        }
        expect(verdict, label).not.toBe("intact");
        expect(verdict, label).toMatch(/#3|Line 4 /);
        expect(() => parseExport(text), label).toThrow(/Line 4 of the export/);
      }
    // Format 1: a member beside the event's fields is refused too.
    const v1 = [
      JSON.stringify({ type: "header", format: "steward-audit-export", version: 1 }),
      ...events.map((e, i) => JSON.stringify({ type: "event", ...e, ...(i === 2 ? { approvedBy: "ceo" } : {}) })),
    ].join("\n");
    expect(() => parseExport(v1)).toThrow("Line 4 of the export: event #3 carries members no hash covers (approvedBy).");
  });

  it("falls back to the decoding verifier for format 1 exports", () => {
    const text = [
      JSON.stringify({ type: "header", format: "steward-audit-export", version: 1 }),
      ...events.map((e) => JSON.stringify({ type: "event", ...e })),
      JSON.stringify({ type: "checkpoint", ...cp }),
    ].join("\n");
    const fast = verifyExportBytes(Buffer.from(text), keys);
    expect(fast.format).toBe(1);
    expect(fast.report).toMatchObject({ intact: true, events: 60, checkpointsVerified: 1 });
  });
});

/** Rewrites an event line's content and recomputes its hash (the signature cannot be recomputed). */
function forge(line: string) {
  const o = JSON.parse(line) as { chained: Record<string, unknown>; hash: string };
  const { v: _v, ...fields }: Record<string, unknown> = { ...o.chained, actorLabel: "mallory@example.com" };
  const f = { ...(fields as unknown as ChainedFields), occurredAt: new Date(fields.occurredAt as string) };
  return exportEventLine({ ...f, hash: hashEvent(f), signature: (o as unknown as { signature: string }).signature, keyId });
}
