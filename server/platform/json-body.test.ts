import { describe, expect, it } from "vitest";
import { jsonDepth, unstorableString } from "./json-body";

const depth = (s: string, limit?: number) => jsonDepth(Buffer.from(s), limit);

describe("jsonDepth", () => {
  it("counts nesting of lists and objects, skipping brackets inside strings and escaped quotes", () => {
    expect(depth("1")).toBe(0);
    expect(depth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(depth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(depth('{"a":"\\"[[[[","b":[1]}')).toBe(2);
    expect(depth('["\\\\",[2]]')).toBe(2);
    expect(depth('{"é数":[["ü"]]}')).toBe(3);
  });
  it("stops as soon as the limit is passed", () => {
    expect(depth("[".repeat(1_000_000), 32)).toBe(33);
  });
});

describe("unstorableString", () => {
  it("finds NUL characters and lone surrogates in values and keys, at any depth, with their path", () => {
    expect(unstorableString({ a: [1, "ok", { b: "x\u0000" }] }, "label")).toEqual({ path: "label.a[2].b", reason: "a NUL character (\\u0000)" });
    expect(unstorableString({ "k\u0000": 1 })).toEqual({ path: "$ (a key)", reason: "a NUL character (\\u0000)" });
    expect(unstorableString(["\ud800"])).toEqual({ path: "$[0]", reason: "an unpaired UTF-16 surrogate" });
    let deep: unknown = "\u0000";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableString(deep)?.reason).toMatch(/NUL/);
    expect(unstorableString({ a: "😀 数据", b: [true, null, 1.5] })).toBeNull();
  });
});
