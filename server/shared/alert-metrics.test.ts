import { describe, expect, it } from "vitest";
import { ALERT_METRIC_INFO, ALERT_METRICS, firesBelow, formatAlertValue, RULE_METRICS } from "./alert-metrics";

describe("alert metric catalogue", () => {
  it("describes every stored metric once, and offers all but the event-raised one in the dialog", () => {
    expect(Object.keys(ALERT_METRIC_INFO).sort()).toEqual([...ALERT_METRICS].sort());
    expect(RULE_METRICS).not.toContain("rollout_failed");
    expect(RULE_METRICS).toHaveLength(
      ALERT_METRICS.filter((m) => !["rollout_failed", "traffic", "latency_p50", "latency_p95", "outlier_share", "missing_share", "prediction_mean"].includes(m))
        .length,
    );
  });

  it("fires below for traffic and the labelled scores, above for the rest", () => {
    expect(ALERT_METRICS.filter(firesBelow)).toEqual(["traffic_drop", "accuracy", "f1", "auc"]);
  });

  it("writes values as incident messages show them", () => {
    expect(formatAlertValue("error_rate", 0.0523)).toBe("5.2%");
    expect(formatAlertValue("latency_p99", 812.4)).toBe("812 ms");
    expect(formatAlertValue("drift_feature", 0.31234)).toBe("0.312");
    expect(formatAlertValue("prediction_drift", 0.2)).toBe("0.200");
    expect(formatAlertValue("auc", 0.7)).toBe("0.700");
    expect(formatAlertValue("traffic_drop", 0.5)).toBe("0.50");
    expect(formatAlertValue("rmse", 3.14159)).toBe("3.14");
  });
});
