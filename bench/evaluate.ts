/* ---------------------------------------------------------------------------
 * bench/evaluate: how fast the evaluate step runs a model over a dataset, beside
 * a raw onnxruntime session.run over the same tensors, in the same run.
 *   npm run bench:evaluate [-- --rows 1000000 --batch 8192]
 * Prints: DuckDB read rate, Steward's predict (tensor building + run + output
 * decoding) rows/s, raw session.run rows/s on prebuilt tensors, their ratio, and
 * the metrics time.
 * ------------------------------------------------------------------------- */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { FEATURES, generateCredit, toCsv, trainLogistic } from "../db/seed/credit-data";
import { logisticRegressionOnnx } from "../db/seed/onnx-builder";
import { classification, rocAuc, prCurve, logLoss } from "../server/pipelines/metrics";
import { planInputs, planOutputs } from "../server/shared/tabular";
import { loadTable, openSession, positiveScore, predict, predictedClass } from "~/workers/worker/steps/runtime";

const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, batch: { type: "string", default: "8192" } } });
const N = Number(values.rows);
const BATCH = Number(values.batch);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "steward-bench-eval-"));
const secs = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString("en")} rows/s`;

try {
  console.log(`bench/evaluate: ${N.toLocaleString("en")} rows, batch ${BATCH}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}`);
  const train = generateCredit(5000, 7);
  const model = logisticRegressionOnnx({ ...trainLogistic(train, FEATURES, 200, 0.5), featureNames: [...FEATURES] });
  const modelFile = path.join(dir, "model.onnx");
  fs.writeFileSync(modelFile, model);
  const csvFile = path.join(dir, "eval.csv");
  let t = process.hrtime.bigint();
  const out = fs.openSync(csvFile, "w");
  for (let done = 0; done < N; done += 100_000) {
    const chunk = toCsv(generateCredit(Math.min(100_000, N - done), 11 + done));
    fs.writeSync(out, done === 0 ? chunk : chunk.slice(chunk.indexOf("\n") + 1));
  }
  fs.closeSync(out);
  console.log(`  generated ${(fs.statSync(csvFile).size / 1e6).toFixed(0)} MB of CSV in ${secs(t).toFixed(1)} s`);

  const schema = [
    ...FEATURES.map((name) => ({ name, type: "DOUBLE", logical: "numeric" as const })),
    { name: "region", type: "VARCHAR", logical: "categorical" as const },
    { name: "gender", type: "VARCHAR", logical: "categorical" as const },
    { name: "default", type: "BIGINT", logical: "numeric" as const },
  ];
  t = process.hrtime.bigint();
  const table = await loadTable(csvFile, "csv", schema);
  const readS = secs(t);
  console.log(`  DuckDB read:             ${rate(table.rows, readS)} (${readS.toFixed(2)} s)`);

  const signature = {
    inputs: [{ name: "features", elemType: "float", shape: ["batch", FEATURES.length] }],
    outputs: [
      { name: "probability", elemType: "float", shape: ["batch", 1] },
      { name: "label", elemType: "int64", shape: ["batch", 1] },
    ],
    metadata: { feature_names: FEATURES.join(",") },
  };
  const plan = planInputs(
    signature,
    schema.map((c) => c.name),
  );
  const outPlan = planOutputs(signature);
  const session = await openSession(modelFile);
  await predict(session, plan, outPlan, { rows: Math.min(BATCH, table.rows), columns: table.columns }, BATCH); // warm-up
  t = process.hrtime.bigint();
  const pred = await predict(session, plan, outPlan, table, BATCH);
  const stewardS = secs(t);

  // Raw: the same values, prebuilt as Float32 tensors, straight into session.run.
  const raw = await InferenceSession.create(fs.readFileSync(modelFile), { executionProviders: ["cpu"], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const F = FEATURES.length;
  const tensors: Tensor[] = [];
  for (let start = 0; start < table.rows; start += BATCH) {
    const n = Math.min(BATCH, table.rows - start);
    const data = new Float32Array(n * F);
    FEATURES.forEach((f, j) => {
      const col = table.columns.get(f)!.values as Float64Array;
      for (let r = 0; r < n; r++) data[r * F + j] = col[start + r]!;
    });
    tensors.push(new Tensor("float32", data, [n, F]));
  }
  await raw.run({ features: tensors[0]! });
  t = process.hrtime.bigint();
  for (const x of tensors) await raw.run({ features: x });
  const rawS = secs(t);
  console.log(`  Steward predict:         ${rate(table.rows, stewardS)} (${stewardS.toFixed(2)} s: tensors from columns, run, outputs decoded)`);
  console.log(`  raw session.run:         ${rate(table.rows, rawS)} (${rawS.toFixed(2)} s: prebuilt tensors, outputs ignored)`);
  console.log(`  ratio Steward / raw:     ${(rawS / stewardS).toFixed(2)}`);

  t = process.hrtime.bigint();
  const y = Array.from(table.columns.get("default")!.values as Float64Array);
  const p = pred.task === "classification" ? pred : null;
  const score = positiveScore(p!)!;
  classification(y, predictedClass(p!), ["0", "1"]);
  rocAuc(y, score);
  prCurve(y, score);
  logLoss(y, score);
  const mS = secs(t);
  console.log(`  metrics (confusion, ROC AUC, PR AUC, log loss): ${mS.toFixed(2)} s`);
  console.log(`  end to end (read + predict + metrics): ${rate(table.rows, readS + stewardS + mS)}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
