import { describe, expect, it } from "vitest";
import { canonicalEncoding, findChainBreak, GENESIS_HASH, hashEvent, type ChainedFields } from "./chain";

function chain(n: number) {
  const out: (ChainedFields & { hash: string })[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const e: ChainedFields = {
      workspaceId: "w",
      seq: i,
      prevHash: prev,
      occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      actorType: "user",
      actorId: "u",
      actorLabel: "u@example.com",
      action: "workspace.renamed",
      targetType: "workspace",
      targetId: "w",
      changes: { name: [`a${i}`, `b${i}`] },
      metadata: { z: 1, a: 2 },
      requestId: null,
    };
    const hash = hashEvent(e);
    out.push({ ...e, hash });
    prev = hash;
  }
  return out;
}

describe("chain", () => {
  it("encodes canonically: key order does not change the hash", () => {
    const [e] = chain(1);
    const reordered = { ...e!, metadata: { a: 2, z: 1 } };
    expect(canonicalEncoding(reordered)).toBe(canonicalEncoding(e!));
    expect(canonicalEncoding(e!)).toContain('"metadata":{"a":2,"z":1}');
  });

  it("accepts an intact chain", () => {
    expect(findChainBreak(chain(5))).toBeNull();
  });

  it("names the first altered event", () => {
    const c = chain(5);
    c[2] = { ...c[2]!, action: "member.removed" };
    expect(findChainBreak(c)).toMatchObject({ seq: 3, reason: expect.stringMatching(/altered/) });
  });

  it("names a missing event", () => {
    const c = chain(5);
    c.splice(1, 1);
    expect(findChainBreak(c)).toMatchObject({ seq: 2, reason: expect.stringMatching(/missing/) });
  });

  it("catches a relinked chain whose hashes were all recomputed from the middle", () => {
    const c = chain(4);
    // Dropping the tail is invisible to the chain alone (checkpoints catch it), but a
    // changed link is not: #3 pointing at a different #2.
    c[2] = { ...c[2]!, prevHash: "f".repeat(64) };
    expect(findChainBreak(c)).toMatchObject({ seq: 3, reason: expect.stringMatching(/does not link/) });
  });
});
