import { describe, expect, it } from "vitest";
import { InputError } from "~/server/shared/tensors";
import { decodeV2, encodeV2Response, modelMetadata, parseV2Request, V2Error } from "./v2";

/* The Open Inference Protocol codec alone: the specification's examples, decoded and encoded. */
const sig = {
  inputs: [
    { name: "input0", elemType: "uint32", shape: [2, 2] },
    { name: "input1", elemType: "bool", shape: [3] },
  ],
  outputs: [{ name: "output0", elemType: "float", shape: ["batch", 2] }],
} as Parameters<typeof decodeV2>[0];

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof V2Error || err instanceof InputError) return err.message;
    throw err;
  }
  return "no error";
};

describe("Open Inference Protocol codec", () => {
  it("decodes the binary extension's example request: 16 bytes of UINT32 then 3 of BOOL after the JSON header", () => {
    const header = Buffer.from(
      JSON.stringify({
        model_name: "mymodel",
        inputs: [
          { name: "input0", shape: [2, 2], datatype: "UINT32", parameters: { binary_data_size: 16 } },
          { name: "input1", shape: [3], datatype: "BOOL", parameters: { binary_data_size: 3 } },
        ],
        outputs: [{ name: "output0", parameters: { binary_data: true } }],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(new Uint32Array([1, 2, 3, 4]).buffer), Buffer.from([1, 0, 1])]);
    const req = parseV2Request(body, String(header.length));
    expect(req.outputs).toEqual([{ name: "output0", binary: true }]);
    const { feeds } = decodeV2(sig, req);
    expect(Array.from(feeds.input0!.data as Uint32Array)).toEqual([1, 2, 3, 4]);
    expect(feeds.input0!.dims).toEqual([2, 2]);
    expect(Array.from(feeds.input1!.data as Uint8Array)).toEqual([1, 0, 1]);
  });

  it("encodes the example response: a [3, 2] FP32 output as 24 bytes after the header", () => {
    const y = new Float32Array([1, 2, 3, 4, 5, Number.NaN]);
    const req = parseV2Request(
      Buffer.from(
        JSON.stringify({
          inputs: [{ name: "input0", shape: [1], datatype: "UINT32", data: [1] }],
          outputs: [{ name: "output0", parameters: { binary_data: true } }],
        }),
      ),
      undefined,
    );
    const { body, headerLength } = encodeV2Response({
      modelName: "m",
      modelVersion: 3,
      parameters: {},
      sig,
      outputs: { output0: { type: "float32", data: y, dims: [3, 2] } },
      req,
    });
    const head = JSON.parse(body.subarray(0, headerLength!).toString()) as Record<string, unknown>;
    expect(head).toEqual({
      model_name: "m",
      model_version: "3",
      parameters: {},
      outputs: [{ name: "output0", shape: [3, 2], datatype: "FP32", parameters: { binary_data_size: 24 } }],
    });
    expect(Buffer.compare(body.subarray(headerLength!), Buffer.from(y.buffer))).toBe(0);
    // As JSON: flat, NaN by name.
    const asJson = encodeV2Response({
      modelName: "m",
      modelVersion: 3,
      id: "a",
      parameters: {},
      sig,
      outputs: { output0: { type: "float32", data: y, dims: [3, 2] } },
      req: { ...req, outputs: null },
    });
    expect(asJson.headerLength).toBeNull();
    expect(JSON.parse(asJson.body.toString())).toMatchObject({ id: "a", outputs: [{ data: [1, 2, 3, 4, 5, "NaN"] }] });
  });

  it("BYTES elements: a 4-byte little-endian length, then UTF-8, both ways", () => {
    const s = { inputs: [{ name: "t", elemType: "string", shape: [null] }], outputs: [{ name: "t", elemType: "string", shape: [null] }] } as Parameters<
      typeof decodeV2
    >[0];
    const el = (x: string) => {
      const b = Buffer.from(x);
      const n = Buffer.alloc(4);
      n.writeUInt32LE(b.length);
      return Buffer.concat([n, b]);
    };
    const bin = Buffer.concat([el("héllo"), el("")]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "t", shape: [2], datatype: "BYTES", parameters: { binary_data_size: bin.length } }],
        parameters: { binary_data_output: true },
      }),
    );
    const req = parseV2Request(Buffer.concat([header, bin]), String(header.length));
    const { feeds } = decodeV2(s, req);
    expect(feeds.t!.data).toEqual(["héllo", ""]);
    const { body, headerLength } = encodeV2Response({ modelName: "m", modelVersion: 1, parameters: {}, sig: s, outputs: feeds, req });
    expect(Buffer.compare(body.subarray(headerLength!), bin)).toBe(0);
    expect(refusal(() => decodeV2(s, parseV2Request(Buffer.concat([header, bin.subarray(0, 6)]), String(header.length))))).toBe(
      `Input "t" declares ${bin.length} binary bytes but only 6 remain after the JSON header.`,
    );
  });

  it("metadata: datatypes and -1 for every dynamic dimension", () => {
    expect(modelMetadata("d", [2, 3], sig)).toEqual({
      name: "d",
      versions: ["2", "3"],
      platform: "onnxruntime_onnx",
      inputs: [
        { name: "input0", datatype: "UINT32", shape: [2, 2] },
        { name: "input1", datatype: "BOOL", shape: [3] },
      ],
      outputs: [{ name: "output0", datatype: "FP32", shape: [-1, 2] }],
    });
  });

  it("refuses what the model cannot take, naming the input", () => {
    const json = (inputs: unknown[]) => parseV2Request(Buffer.from(JSON.stringify({ inputs })), undefined);
    const ok1 = { name: "input1", shape: [3], datatype: "BOOL", data: [true, false, true] };
    expect(refusal(() => decodeV2(sig, json([{ name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, -4] }, ok1])))).toMatch(
      /Input "input0" element 3 is -4; expected an integer from 0 to 4294967295/,
    );
    expect(refusal(() => decodeV2(sig, json([{ name: "input0", shape: [4], datatype: "UINT32", data: [1, 2, 3, 4] }, ok1])))).toMatch(/rank 1/);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: "input0", shape: [2, 2], datatype: "UINT32", data: [1, 2, 3, 4] },
          { name: "input1", shape: [3], datatype: "BOOL", parameters: { binary_data_size: 3 } },
        ],
      }),
    );
    expect(refusal(() => decodeV2(sig, parseV2Request(Buffer.concat([header, Buffer.from([1, 2, 0])]), String(header.length))))).toBe(
      'Input "input1" element 1 is the byte 2; BOOL elements are 0 or 1.',
    );
    expect(refusal(() => parseV2Request(Buffer.from("{}"), "x"))).toMatch(/Inference-Header-Content-Length is "x"/);
  });
});
