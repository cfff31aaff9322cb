import { describe, expect, it } from "vitest";
import { changeVerdict, measuredValue, metricDirection, reportedDiffers } from "./metrics";

describe("metric directions", () => {
  it("knows losses, errors and latencies are better lower, scores better higher", () => {
    for (const m of ["log_loss", "loss", "val_log_loss", "rmse", "mae", "mse", "brier", "error_rate", "p95_latency_ms", "log_loss_delta", "accuracy_gap"])
      expect(metricDirection(m), m).toBe("lower");
    for (const m of ["accuracy", "roc_auc", "f1_macro", "precision", "recall", "r2", "auc", "maelstrom_score", "gapless_recall"])
      expect(metricDirection(m), m).toBe("higher");
  });

  it("calls a lower log_loss an improvement and a lower accuracy a regression", () => {
    expect(changeVerdict("log_loss", -0.02)).toBe("better");
    expect(changeVerdict("log_loss", 0.02)).toBe("worse");
    expect(changeVerdict("accuracy", -0.02)).toBe("worse");
    expect(changeVerdict("accuracy", 0.02)).toBe("better");
    expect(changeVerdict("rmse", 0)).toBe("same");
  });
});

describe("self-reported against measured", () => {
  it("flags 0.768 reported against 0.745 measured, not a rounding difference", () => {
    expect(reportedDiffers(0.768, 0.745)).toEqual({ differs: true, gap: expect.closeTo(0.023, 6) });
    expect(reportedDiffers(0.7451, 0.745).differs).toBe(false);
    // Relative on large scales: an RMSE of 1205 against 1200 is within 1%.
    expect(reportedDiffers(1205, 1200).differs).toBe(false);
    expect(reportedDiffers(1250, 1200).differs).toBe(true);
  });
});

describe("measured values", () => {
  it("finds a reported auc under the measured roc_auc", () => {
    expect(measuredValue("auc", { roc_auc: 0.73 })).toBe(0.73);
    expect(measuredValue("accuracy", { roc_auc: 0.73 })).toBeUndefined();
  });
});
