/*
 * The alert metrics, in one place (isomorphic): what each measures, which way it fires and
 * how its values are written. The rules table's column (db/schema/monitoring.ts), the rule
 * schema (monitoring.schema.ts), the evaluator's incident messages (alerts.service.ts) and
 * the rule dialog and list (components/monitoring/) all read it.
 */

/** Every metric a rule may watch; stored in alert_rules.metric. */
export const ALERT_METRICS = [
  "latency_p99",
  "error_rate",
  "rollout_failed",
  "drift_any",
  "drift_feature",
  "prediction_drift",
  "traffic_drop",
  "accuracy",
  "f1",
  "auc",
  "mae",
  "rmse",
  // Watched by anomaly rules only (server/shared/anomaly.ts): a fixed threshold on them is traffic_drop or latency_p99.
  "traffic",
  "latency_p50",
  "latency_p95",
  "outlier_share",
  "missing_share",
  "prediction_mean",
] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

type MetricInfo = {
  /** What the rule dialog offers. */
  label: string;
  /** How an incident's message names it ("<deployment>: <noun> is …"). */
  noun: string;
  /** The unit or scale, under the threshold field. */
  hint: string;
  /** Fires when the value falls below the threshold (the rest fire above it). */
  below: boolean;
  /** Raised by an event, not by a value a person sets a threshold on: not offered in the dialog. */
  system?: true;
  /** Offered for anomaly rules only. */
  anomalyOnly?: true;
  format: (v: number) => string;
};

const share = (v: number) => `${(v * 100).toFixed(1)}%`;
const score = (v: number) => v.toFixed(3);
const plain = (v: number) => v.toFixed(2);
const PSI_HINT = "0.1 moderate, 0.25 major";
const LABELLED_HINT = "from labelled predictions, 0–1";

/** In the order the rule dialog lists them. */
export const ALERT_METRIC_INFO = {
  drift_any: { label: "Drift of any input feature (PSI)", noun: "drift (max PSI over features)", hint: PSI_HINT, below: false, format: score },
  drift_feature: { label: "Drift of one input feature (PSI)", noun: "drift (PSI)", hint: PSI_HINT, below: false, format: score },
  prediction_drift: {
    label: "Prediction drift (PSI of the outputs)",
    noun: "prediction drift (PSI of the model's outputs)",
    hint: PSI_HINT,
    below: false,
    format: score,
  },
  error_rate: { label: "Error rate", noun: "error rate", hint: "a share: 0.05 is 5%", below: false, format: share },
  latency_p99: { label: "Latency p99 (ms)", noun: "latency p99 (ms)", hint: "milliseconds", below: false, format: (v) => `${v.toFixed(0)} ms` },
  traffic_drop: { label: "Traffic below (requests/s)", noun: "traffic (requests/s)", hint: "fires when traffic falls below", below: true, format: plain },
  accuracy: { label: "Accuracy below", noun: "accuracy", hint: LABELLED_HINT, below: true, format: score },
  f1: { label: "F1 below", noun: "F1", hint: LABELLED_HINT, below: true, format: score },
  auc: { label: "AUC below", noun: "AUC", hint: LABELLED_HINT, below: true, format: score },
  mae: { label: "MAE above", noun: "MAE", hint: "regression, in the label's unit", below: false, format: plain },
  rmse: { label: "RMSE above", noun: "RMSE", hint: "regression, in the label's unit", below: false, format: plain },
  traffic: { label: "Traffic (requests/s)", noun: "traffic (requests/s)", hint: "", below: false, anomalyOnly: true, format: plain },
  latency_p50: { label: "Latency p50 (ms)", noun: "latency p50 (ms)", hint: "", below: false, anomalyOnly: true, format: (v) => `${v.toFixed(0)} ms` },
  latency_p95: { label: "Latency p95 (ms)", noun: "latency p95 (ms)", hint: "", below: false, anomalyOnly: true, format: (v) => `${v.toFixed(0)} ms` },
  outlier_share: {
    label: "Input outliers (share of requests)",
    noun: "share of requests with an input outside the reference",
    hint: "",
    below: false,
    anomalyOnly: true,
    format: share,
  },
  missing_share: {
    label: "Missing inputs (share of requests)",
    noun: "share of requests with a missing input",
    hint: "",
    below: false,
    anomalyOnly: true,
    format: share,
  },
  prediction_mean: {
    label: "Mean prediction (probability or value)",
    noun: "mean prediction",
    hint: "",
    below: false,
    anomalyOnly: true,
    format: (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)),
  },
  rollout_failed: { label: "Rollout failed", noun: "rollout failed", hint: "raised when a rollout fails", below: false, system: true, format: plain },
} as const satisfies Record<AlertMetric, MetricInfo>;

/** The metric's entry; an unknown name (a stale client) reads as a plain metric that fires above. */
export function alertMetric(metric: string): MetricInfo {
  return (ALERT_METRIC_INFO as Record<string, MetricInfo>)[metric] ?? { label: metric, noun: metric, hint: "", below: false, format: plain };
}

/** Whether a rule on this metric fires below its threshold. */
export const firesBelow = (metric: string) => alertMetric(metric).below;

/** A value of the metric as incident messages write it (0.052 → "5.2%", 812.4 → "812 ms"). */
export const formatAlertValue = (metric: string, v: number) => alertMetric(metric).format(v);

/** The metrics a person sets a threshold on (the dialog's list), in the dialog's order. */
export const RULE_METRICS = (Object.keys(ALERT_METRIC_INFO) as AlertMetric[]).filter((m) => !alertMetric(m).system && !alertMetric(m).anomalyOnly);
