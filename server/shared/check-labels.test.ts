import { describe, expect, it } from "vitest";
import { checkLabel } from "./check-labels";

describe("check labels", () => {
  it.each([
    ["evaluate.accuracy", "Accuracy"],
    ["evaluate.roc_auc", "ROC AUC"],
    ["champion.f1_macro_delta", "Macro F1 change vs champion"],
    ["champion.accuracy_delta", "Accuracy change vs champion"],
    ["fairness.demographic_parity_ratio", "Fairness: demographic parity ratio"],
    ["integrity.null_cells", "Data integrity: empty cells"],
    ["performance.latency_p99_ms_b1", "Speed: p99 latency (ms) at batch 1"],
    ["robustness.changed_share_noise_0_1", "Robustness: predictions changed under noise 0.1"],
    ["robustness.metric_drop_noise_0_05", "Robustness: metric drop under noise 0.05"],
    ["robustness.worst_metric_drop", "Robustness: metric drop at the worst noise level"],
    ["custom_step.my_score", "Custom step: my score"],
    ["plain", "Plain"],
  ])("%s reads “%s”", (key, label) => expect(checkLabel(key)).toBe(label));
});
