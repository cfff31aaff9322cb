import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { onnx } from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeModel } from "~/db/seed/onnx-builder";
import { InputError, parsePredictRequest, toJson } from "~/server/shared/tensors";
import { parseOnnx } from "~/workers/inspect/onnx-parse";
import { InferencePool } from "./pool";

/*
 * Every element type onnxruntime-node takes, through the real path: JSON → validated typed
 * tensor → an inference thread running an Identity model in onnxruntime → JSON. What goes
 * in must come out unchanged (int64/uint64 beyond 2^53 as strings of digits, NaN and the
 * infinities by name, exactly).
 */
const T = onnx.TensorProto.DataType;
const CASES: { elem: keyof typeof T; label?: string; values: unknown[]; out?: unknown[] }[] = [
  { elem: "FLOAT", values: [1.5, -0.25, 3.4028234663852886e38] },
  { elem: "FLOAT", label: "float NaN and infinities", values: ["NaN", "Infinity", "-Infinity"] },
  { elem: "FLOAT16", values: [0.5, -2, 65504] },
  { elem: "FLOAT16", label: "float16 NaN and infinities", values: ["NaN", "-Infinity", 6.103515625e-5] },
  { elem: "DOUBLE", values: [0.1, -1e-300, 1.7976931348623157e308] },
  { elem: "DOUBLE", label: "double NaN and infinities", values: ["-Infinity", "NaN", "Infinity"] },
  { elem: "INT8", values: [-128, 0, 127] },
  { elem: "UINT8", values: [0, 1, 255] },
  { elem: "INT16", values: [-32768, 7, 32767] },
  { elem: "UINT16", values: [0, 9, 65535] },
  { elem: "INT32", values: [-2147483648, 0, 2147483647] },
  { elem: "UINT32", values: [0, 1, 4294967295] },
  { elem: "INT64", values: ["9223372036854775807", -9007199254740991, "-9007199254740993"] },
  { elem: "UINT64", values: ["18446744073709551615", 0, "9007199254740993"] },
  { elem: "BOOL", values: [true, false, true] },
  { elem: "STRING", values: ["héllo", "", 'naïve "quoted" 🙂'] },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-dtypes-"));
let pool: InferencePool;
beforeAll(() => {
  pool = new InferencePool(1, 0);
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function identity(elem: number) {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: elem, shape: { dim: [{ dimParam: "batch" }, { dimValue: 3 }] } } } });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "steward-test",
    graph: { name: "id", node: [{ opType: "Identity", input: ["x"], output: ["y"] }], input: [vi("x")], output: [vi("y")] },
  });
}

describe("every onnxruntime element type round-trips through the inference path", () => {
  for (const c of CASES) {
    it(c.label ?? c.elem.toLowerCase(), async () => {
      const bytes = identity(T[c.elem]);
      const file = path.join(dir, `${c.elem}.onnx`);
      fs.writeFileSync(file, bytes);
      const sig = parseOnnx(bytes);
      await pool.load(c.elem, file, 1);
      const parsed = parsePredictRequest(sig, { inputs: { x: [c.values, c.values] } });
      const r = await pool.run(c.elem, parsed.feeds);
      // Safe integers come back as numbers, larger ones as the same strings of digits.
      const expected = c.values.map((v) => (typeof v === "string" && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : v));
      expect(toJson(r.outputs.y!)).toEqual([expected, expected]);
    });
  }

  it("refuses values a type cannot hold, naming the input and the type", () => {
    const sig = (elem: keyof typeof T) => parseOnnx(identity(T[elem]));
    const bad = (elem: keyof typeof T, v: unknown) => {
      try {
        parsePredictRequest(sig(elem), { inputs: { x: [[v, v, v]] } });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error(`${elem} accepted ${JSON.stringify(v)}`);
    };
    expect(bad("INT64", 2 ** 60)).toMatch(/expected an integer within ±2\^53 or a string of digits for larger values \(int64\)/);
    expect(bad("INT64", "9223372036854775808")).toMatch(/int64 range/);
    expect(bad("UINT8", 256)).toMatch(/from 0 to 255/);
    expect(bad("FLOAT16", 70000)).toMatch(/is 70000, outside the float16 range \(±65504\)/);
    expect(bad("FLOAT", 1e39)).toMatch(/is 1e\+39, outside the float range/);
    expect(bad("FLOAT", Number.NaN)).toMatch(/a number|finite/);
    expect(bad("BOOL", 1)).toMatch(/true or false/);
    expect(bad("STRING", 5)).toMatch(/a string/);
  });
});
