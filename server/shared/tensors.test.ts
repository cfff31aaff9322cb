import { describe, expect, it } from "vitest";
import { fromBfloat16Bits, fromFloat16Bits, InputError, MAX_RANK, parsePredictRequest, toBfloat16Bits, toFloat16Bits, toJson } from "./tensors";

/** A model whose input's rank is not fixed (no shape): only MAX_RANK bounds what is walked. */
const anyRank = { inputs: [{ name: "x", elemType: "float", shape: null }], metadata: {} } as unknown as Parameters<typeof parsePredictRequest>[0];
const tabular = { inputs: [{ name: "features", elemType: "float", shape: [null, 2] }], metadata: { feature_names: "a,b" } } as unknown as Parameters<
  typeof parsePredictRequest
>[0];
const nest = (n: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const message = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
  return "no error";
};

describe("parsePredictRequest depth", () => {
  it("refuses a tensor nested deeper than MAX_RANK before walking it, on models of any rank", () => {
    expect(message(() => parsePredictRequest(anyRank, { inputs: { x: nest(100_000, 1) } }))).toBe(
      `Input "x" is nested 100,000 lists deep; a tensor has at most ${MAX_RANK} dimensions.`,
    );
    expect(parsePredictRequest(anyRank, { inputs: { x: nest(MAX_RANK, 1) } }).feeds.x!.dims).toHaveLength(MAX_RANK);
  });
  it("names a deep value in a record without serialising it", () => {
    expect(message(() => parsePredictRequest(tabular, { instances: [{ a: nest(100_000, 1), b: 1 }] }))).toMatch(
      /element 0 is a list; expected a number or one of "NaN", "Infinity", "-Infinity" \(float\)/,
    );
    expect(message(() => parsePredictRequest(tabular, { instances: [{ a: 1, b: { deep: nest(100_000, 1) } }] }))).toMatch(
      /element 1 is an object; expected a number/,
    );
    expect(message(() => parsePredictRequest(tabular, { instances: [{ a: 1, b: "x" }] }))).toMatch(/element 1 is "x"/);
  });
});

const floats = (elem: string) =>
  ({ inputs: [{ name: "x", elemType: elem, shape: [null] }], metadata: {} }) as unknown as Parameters<typeof parsePredictRequest>[0];
const feed = (elem: string, values: unknown[]) => parsePredictRequest(floats(elem), { inputs: { x: values } }).feeds.x!;

describe("exact floats on the wire", () => {
  it('reads "NaN", "Infinity" and "-Infinity" in every float type and writes them back by name', () => {
    for (const elem of ["float", "double", "float16", "bfloat16"]) {
      const t = feed(elem, ["NaN", "Infinity", "-Infinity", 1.5, -0, 0]);
      expect(toJson(t), elem).toEqual(["NaN", "Infinity", "-Infinity", 1.5, -0, 0]);
      // The JSON text itself: no null where a NaN was.
      expect(JSON.stringify(toJson(t))).toBe('["NaN","Infinity","-Infinity",1.5,0,0]');
    }
  });

  it("returns a float32 exactly as the runtime holds it (the nearest float32, every digit)", () => {
    const t = feed("float", [0.1, 3.4028234663852886e38, 1e-45]);
    expect(toJson(t)).toEqual([Math.fround(0.1), 3.4028234663852886e38, Math.fround(1e-45)]);
    expect(JSON.parse(JSON.stringify(toJson(t)))).toEqual(Array.from(t.data as Float32Array));
  });

  it("refuses a number the type cannot hold, naming the input and the value, never a silent infinity", () => {
    expect(message(() => feed("float", [1, 1e39]))).toBe(
      'Input "x" element 1 is 1e+39, outside the float range (±3.4028234663852886e+38); send "Infinity" or "-Infinity" for an infinite value.',
    );
    expect(message(() => feed("float", [-1e39]))).toMatch(/element 0 is -1e\+39, outside the float range/);
    expect(message(() => feed("float16", [70000]))).toMatch(/element 0 is 70000, outside the float16 range \(±65504\)/);
    expect(message(() => feed("bfloat16", [3.4e38]))).toMatch(/outside the bfloat16 range/);
    // Rounds to the largest finite value: accepted, as IEEE rounding says.
    expect(toJson(feed("float16", [65519]))).toEqual([65504]);
    expect(toJson(feed("double", [1e39]))).toEqual([1e39]);
    // A literal beyond float64 parses to Infinity: refused, infinities are asked for by name.
    expect(message(() => parsePredictRequest(floats("double"), JSON.parse('{"inputs":{"x":[1e999]}}')))).toMatch(
      /element 0 is a number beyond the float64 range; expected a finite number or one of "NaN", "Infinity", "-Infinity" \(double\)/,
    );
    expect(message(() => feed("float", ["nan"]))).toMatch(/element 0 is "nan"; expected a number or one of "NaN", "Infinity", "-Infinity" \(float\)/);
    expect(message(() => feed("float", [null]))).toMatch(/element 0 is null; expected a number/);
  });

  it("float16 and bfloat16 round-trip: values exact in the type come back unchanged, others as the nearest (ties to even)", () => {
    const f16 = [0.5, -2, 65504, 6.103515625e-5, 5.960464477539063e-8, 1.0009765625];
    expect(toJson(feed("float16", f16))).toEqual(f16);
    expect(toJson(feed("float16", [0.1]))).toEqual([0.0999755859375]);
    const bf16 = [1, -2.5, 3.3895313892515355e38, 1.1754943508222875e-38, 1.0078125];
    expect(toJson(feed("bfloat16", bf16))).toEqual(bf16);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even gives 1.
    expect(toJson(feed("bfloat16", [1.00390625, 0.1]))).toEqual([1, 0.10009765625]);
    for (let bits = 0; bits < 0x10000; bits += 7) {
      const v = fromBfloat16Bits(bits);
      if (!Number.isNaN(v)) expect(toBfloat16Bits(v)).toBe(bits);
      const h = fromFloat16Bits(bits);
      if (!Number.isNaN(h)) expect(toFloat16Bits(h)).toBe(bits);
    }
  });
});
