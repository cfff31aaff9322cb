/*
 * Check names as people read them. A check is stored under its key (`<step>.<metric>`, the
 * key pipelines and policies refer to); the validation report and the review room show this
 * label with the key beside it.
 */

const STEPS: Record<string, string> = {
  evaluate: "",
  champion: "vs champion",
  fairness: "Fairness",
  integrity: "Data integrity",
  performance: "Speed",
  robustness: "Robustness",
  explain: "Explanations",
};

const METRICS: Record<string, string> = {
  accuracy: "Accuracy",
  roc_auc: "ROC AUC",
  f1: "F1",
  f1_macro: "Macro F1",
  precision: "Precision",
  recall: "Recall",
  log_loss: "Log loss",
  mae: "Mean absolute error",
  rmse: "Root mean squared error",
  r2: "R²",
  demographic_parity_ratio: "Demographic parity ratio",
  demographic_parity_difference: "Demographic parity difference",
  equalized_odds_difference: "Equalized odds difference",
  null_cells: "Empty cells",
  out_of_range_share: "Share of values out of range",
  schema_mismatches: "Schema mismatches",
  worst_changed_share: "Predictions changed at the worst noise level",
  worst_metric_drop: "Metric drop at the worst noise level",
};

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "robustness.changed_share_noise_0_1" → "Robustness: predictions changed under noise 0.1". */
export function checkLabel(key: string): string {
  const dot = key.indexOf(".");
  const step = dot > 0 ? key.slice(0, dot) : "";
  const metric = dot > 0 ? key.slice(dot + 1) : key;
  let m = metric;
  let delta = false;
  if (m.endsWith("_delta")) {
    delta = true;
    m = m.slice(0, -"_delta".length);
  }
  let text = METRICS[m];
  if (!text) {
    text = m
      .replace(/_noise_(\d+)_(\d+)$/, " under noise $1.$2")
      .replace(/_b(\d+)$/, " at batch $1")
      .replace(/_ms\b/, " (ms)")
      .replace(/^changed_share\b/, "predictions changed")
      .replace(/^metric_drop\b/, "metric drop")
      .replace(/^latency_p(\d+)/, "p$1 latency")
      .replace(/_/g, " ");
    text = sentence(text.trim());
  }
  if (delta) text = `${text} change`;
  const prefix = STEPS[step] ?? (step ? sentence(step.replace(/_/g, " ")) : "");
  if (step === "champion") return `${text} vs champion`;
  return prefix ? `${prefix}: ${text.charAt(0).toLowerCase()}${text.slice(1)}` : text;
}
