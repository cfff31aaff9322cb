import { NUMERIC_ELEMS, planColumns, planInputs, PlanError, type InputPlan } from "~/server/shared/tabular";
import { requireDataset } from "~/workers/worker/steps/common";
import type { Log, StepContext, StepOutput } from "~/workers/worker/steps/context";
import { loadTable } from "~/workers/worker/steps/runtime";

export async function integrityStep(ctx: StepContext, log: Log): Promise<StepOutput> {
  const ds = requireDataset(ctx);
  const sig = ctx.model.signature;
  const columns = ds.schema.map((c) => c.name);
  const mismatches: { column: string; problem: string; expected: string; found: string; severity: "fail" | "warn" }[] = [];
  let plan: InputPlan | null = null;
  try {
    plan = planInputs(sig, columns);
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    mismatches.push({
      column: "(inputs)",
      problem: err.message,
      expected: sig.inputs.map((i) => i.name).join(", "),
      found: columns.join(", "),
      severity: "fail",
    });
  }
  const elemOf = (col: string) => (plan?.kind === "matrix" ? plan.elemType : (plan?.inputs.find((i) => i.column === col)?.elemType ?? ""));
  const used = plan ? planColumns(plan).filter((c) => columns.includes(c)) : [];
  for (const name of used) {
    const col = ds.schema.find((c) => c.name === name)!;
    const elem = elemOf(name);
    if (NUMERIC_ELEMS.has(elem) && col.logical !== "numeric" && col.logical !== "boolean") {
      mismatches.push({
        column: name,
        problem: "type",
        expected: `numbers (the model takes ${elem})`,
        found: `${col.type} (${col.logical})`,
        severity: "fail",
      });
    }
    if (elem === "string" && col.logical === "numeric") {
      mismatches.push({ column: name, problem: "type", expected: "text (the model takes string)", found: col.type, severity: "warn" });
    }
  }
  if (ctx.label && !columns.includes(ctx.label))
    mismatches.push({ column: ctx.label, problem: "label column missing", expected: "present", found: "absent", severity: "fail" });
  // Nulls and ranges from the dataset's profile, against the training profile when there is one.
  let nullCells = 0;
  const ranges: { column: string; trainMin: number; trainMax: number; evalMin: number | null; evalMax: number | null; outside: number }[] = [];
  const trainCols = new Map((ctx.train?.profile.columns ?? []).map((c) => [c.name, c]));
  const needScan = used.filter((n) => {
    const t = trainCols.get(n);
    return t && typeof t.min === "number" && typeof t.max === "number";
  });
  const table = needScan.length
    ? await loadTable(
        ds.file,
        ds.format,
        ds.schema.filter((c) => needScan.includes(c.name)),
      )
    : null;
  for (const name of used) {
    const prof = ds.profile.columns.find((c) => c.name === name);
    if (prof && prof.nulls > 0) {
      nullCells += prof.nulls;
      mismatches.push({
        column: name,
        problem: "nulls",
        expected: "no missing values (the model cannot take them)",
        found: `${prof.nulls} missing`,
        severity: "warn",
      });
    }
    const t = trainCols.get(name);
    if (table && t && typeof t.min === "number" && typeof t.max === "number") {
      const col = table.columns.get(name);
      if (col?.kind !== "num") continue;
      let outside = 0;
      for (const v of col.values) if (v < t.min || v > t.max) outside++;
      ranges.push({
        column: name,
        trainMin: t.min,
        trainMax: t.max,
        evalMin: typeof prof?.min === "number" ? prof.min : null,
        evalMax: typeof prof?.max === "number" ? prof.max : null,
        outside,
      });
      if (outside)
        mismatches.push({
          column: name,
          problem: "range",
          expected: `within the training range [${t.min}, ${t.max}]`,
          found: `${outside} row(s) outside`,
          severity: "warn",
        });
    }
    if (t?.top && prof?.top && prof.logical === "categorical") {
      const seen = new Set(t.top.map((x) => x.value));
      const unseen = prof.top.filter((x) => !seen.has(x.value));
      if (unseen.length && (t.distinct ?? 0) <= t.top.length)
        mismatches.push({
          column: name,
          problem: "unseen categories",
          expected: [...seen].join(", "),
          found: unseen.map((u) => u.value).join(", "),
          severity: "warn",
        });
    }
  }
  const rows = ds.profile.rows;
  const outsideRows = ranges.reduce((s, r) => s + r.outside, 0);
  for (const m of mismatches) log(`${m.severity === "fail" ? "✗" : "!"} ${m.column}: ${m.problem} — expected ${m.expected}, found ${m.found}.`);
  if (!mismatches.length)
    log(`${ds.ref} matches the model's ${used.length} input column(s)${ctx.train ? ` and the training profile of ${ctx.train.ref}` : ""}.`);
  return {
    metrics: {
      schema_mismatches: mismatches.filter((m) => m.severity === "fail").length,
      null_cells: nullCells,
      out_of_range_share: rows && used.length ? outsideRows / (rows * used.length) : 0,
    },
    defaults: { schema_mismatches: { fail_above: 0 }, null_cells: { warn_above: 0 }, out_of_range_share: { warn_above: 0.01, fail_above: 0.1 } },
    outputs: { dataset: ds.ref, train: ctx.train?.ref ?? null, columns: used, mismatches, ranges },
  };
}
