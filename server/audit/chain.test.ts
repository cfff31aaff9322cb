import { describe, expect, it } from "vitest";
import canonicalize from "canonicalize";
import { canonicalEncoding, canonicalJson, findChainBreak, GENESIS_HASH, hashEvent, type ChainedFields } from "./chain";

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

describe("canonical encoding", () => {
  // The reference: the canonicalize package (RFC 8785) over the version 1 object, as events were always hashed.
  const reference = (e: ChainedFields) =>
    canonicalize({
      v: 1,
      workspaceId: e.workspaceId,
      seq: e.seq,
      prevHash: e.prevHash,
      occurredAt: e.occurredAt.toISOString(),
      actorType: e.actorType,
      actorId: e.actorId,
      actorLabel: e.actorLabel,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId,
      changes: e.changes ?? null,
      metadata: e.metadata ?? null,
      requestId: e.requestId,
    });

  // A small deterministic generator of JSON values: unicode, escapes, numbers JSON writes in exponent form, nesting.
  function rng(seed: number) {
    return () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
  }
  const strings = ["", "a", "é", "日本語", "😀 emoji", 'quote " and \\ backslash', "line\nbreak\ttab\u0001", "\u2028\u2029", "Z", "a\u0000b", "€100%"];
  const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.125, -5e-324, Number.MAX_SAFE_INTEGER, 2 ** 60, 3.14159];
  function value(r: () => number, depth: number): unknown {
    const k = Math.floor(r() * (depth > 2 ? 4 : 7));
    if (k === 0) return strings[Math.floor(r() * strings.length)];
    if (k === 1) return numbers[Math.floor(r() * numbers.length)];
    if (k === 2) return r() < 0.5;
    if (k === 3) return null;
    if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(r() * 5); i > 0; i--) o[strings[Math.floor(r() * strings.length)]! + (r() < 0.3 ? "_" + i : "")] = value(r, depth + 1);
    if (r() < 0.2) o.skipped = undefined;
    return o;
  }

  it("writes exactly what the canonicalize package writes, for 5,000 generated events", () => {
    const r = rng(42);
    for (let i = 0; i < 5000; i++) {
      const e: ChainedFields = {
        workspaceId: r() < 0.2 ? null : "7f1c0c52-5b55-4d3c-9c0a-1f0a2f3b4c5d",
        seq: Math.floor(r() * 1e9),
        prevHash: GENESIS_HASH,
        occurredAt: new Date(Math.floor(r() * 4e12)),
        actorType: ["user", "system", "anonymous"][i % 3]!,
        actorId: r() < 0.3 ? null : `u${i}`,
        actorLabel: r() < 0.3 ? null : strings[i % strings.length]!,
        action: "workspace.renamed",
        targetType: "workspace",
        targetId: r() < 0.5 ? null : strings[(i + 3) % strings.length]!,
        changes: r() < 0.3 ? null : value(r, 1),
        metadata: r() < 0.3 ? undefined : value(r, 0),
        requestId: r() < 0.5 ? null : `req-${i}`,
      };
      expect(canonicalEncoding(e)).toBe(reference(e));
    }
  });

  it("refuses what JCS cannot encode, naming it", () => {
    expect(() => canonicalJson(Number.NaN)).toThrow("NaN is not allowed");
    expect(() => canonicalJson({ a: Infinity })).toThrow("Infinity is not allowed");
    expect(() => canonicalJson("\ud800")).toThrow("Lone surrogate");
    expect(canonicalJson([undefined, 1])).toBe("[null,1]");
    expect(canonicalJson({ b: 1, a: undefined, A: [true] })).toBe('{"A":[true],"b":1}');
  });
});
