/**
 * Pure parts of the demo: a generated credit-risk dataset with a sensitive attribute
 * (gender), and logistic regression trained and evaluated in TypeScript.
 */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FEATURES = ["age", "income_k", "debt_ratio", "history_years", "late_payments"] as const;
type Row = Record<(typeof FEATURES)[number], number> & { region: string; gender: string; default: number };

export function generateCredit(n: number, seed: number): Row[] {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const regions = ["north", "south", "east", "west"];
  const rows: Row[] = [];
  for (let i = 0; i < n; i++) {
    const age = Math.round(21 + r() * 49);
    const gender = r() < 0.48 ? "F" : "M";
    const income_k = Math.round(Math.exp(3.7 + 0.45 * normal() + (age - 45) * 0.006) * 10) / 10;
    const debt_ratio = Math.round(Math.min(0.99, Math.max(0, 0.35 + 0.18 * normal())) * 1000) / 1000;
    const history_years = Math.max(0, Math.round((age - 20) * r()));
    let late = 0;
    for (let k = 0; k < 6; k++) if (r() < 0.08 + debt_ratio * 0.12) late++;
    const region = regions[Math.floor(r() * 4)]!;
    const z =
      -1.2 + 3.1 * (debt_ratio - 0.35) + 0.55 * late - 0.018 * (income_k - 40) - 0.04 * history_years + (region === "south" ? 0.25 : 0) + 0.6 * normal();
    rows.push({ age, income_k, debt_ratio, history_years, late_payments: late, region, gender, default: r() < 1 / (1 + Math.exp(-z)) ? 1 : 0 });
  }
  return rows;
}

export function toCsv(rows: Row[]) {
  const cols = [...FEATURES, "region", "gender", "default"] as const;
  return `${cols.join(",")}\n${rows.map((row) => cols.map((c) => row[c]).join(",")).join("\n")}\n`;
}

/** Gradient descent on standardised features, folded back so the ONNX model takes raw values. */
export function trainLogistic(rows: Row[], features: readonly (typeof FEATURES)[number][], epochs: number, lr: number) {
  const X = rows.map((row) => features.map((f) => row[f]));
  const y = rows.map((row) => row.default);
  const mean = features.map((_, j) => X.reduce((a, x) => a + x[j]!, 0) / X.length);
  const std = features.map((_, j) => Math.sqrt(X.reduce((a, x) => a + (x[j]! - mean[j]!) ** 2, 0) / X.length) || 1);
  const Z = X.map((x) => x.map((v, j) => (v - mean[j]!) / std[j]!));
  const w = new Array<number>(features.length).fill(0);
  let b = 0;
  for (let e = 0; e < epochs; e++) {
    const gw = new Array<number>(features.length).fill(0);
    let gb = 0;
    for (let i = 0; i < Z.length; i++) {
      const p = 1 / (1 + Math.exp(-(Z[i]!.reduce((a, v, j) => a + v * w[j]!, 0) + b)));
      const d = p - y[i]!;
      for (let j = 0; j < w.length; j++) gw[j]! += d * Z[i]![j]!;
      gb += d;
    }
    for (let j = 0; j < w.length; j++) w[j]! -= (lr * gw[j]!) / Z.length;
    b -= (lr * gb) / Z.length;
  }
  const weights = w.map((wj, j) => wj / std[j]!);
  const bias = b - w.reduce((a, wj, j) => a + (wj * mean[j]!) / std[j]!, 0);
  return { weights, bias };
}

export function evaluate(rows: Row[], features: readonly (typeof FEATURES)[number][], model: { weights: number[]; bias: number }) {
  const scored = rows.map((row) => {
    const z = features.reduce((a, f, j) => a + row[f] * model.weights[j]!, model.bias);
    return { p: 1 / (1 + Math.exp(-z)), y: row.default };
  });
  const accuracy = scored.filter((s) => (s.p > 0.5 ? 1 : 0) === s.y).length / scored.length;
  // AUC by the rank-sum (Mann-Whitney U) statistic.
  const sorted = [...scored].sort((a, b) => a.p - b.p);
  let rankSum = 0;
  sorted.forEach((s, i) => s.y === 1 && (rankSum += i + 1));
  const pos = scored.filter((s) => s.y === 1).length;
  const neg = scored.length - pos;
  const auc = (rankSum - (pos * (pos + 1)) / 2) / Math.max(1, pos * neg);
  const logloss = -scored.reduce((a, s) => a + (s.y ? Math.log(s.p + 1e-12) : Math.log(1 - s.p + 1e-12)), 0) / scored.length;
  const round = (v: number) => Math.round(v * 10_000) / 10_000;
  return { accuracy: round(accuracy), auc: round(auc), log_loss: round(logloss) };
}
