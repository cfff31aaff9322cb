import { z } from "zod";
import { ALERT_METRICS, alertMetric } from "~/server/shared/alert-metrics";
import { ANOMALY_METRICS, isAnomalyMetric, SENSITIVITY_NAMES } from "~/server/shared/anomaly";

/** The dashboards' time ranges (isomorphic: the router validates them, the pages offer them). */
export const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"] as const;
export type Range = (typeof RANGES)[number];
export const RangeInput = z.enum(RANGES, { error: `range must be one of ${RANGES.join(", ")}.` }).default("1h");

/**
 * An alert rule as the dialog and the API send it (the service also checks drift_feature names its feature).
 * A threshold rule fires past its threshold; an anomaly rule fires when its series leaves the band learned
 * from the deployment's own history (server/shared/anomaly.ts), at the sensitivity given (medium by default).
 */
export const RuleInput = z
  .object({
    name: z.string().trim().min(1, "name is required.").max(80),
    kind: z.enum(["threshold", "anomaly"], { error: "kind must be threshold or anomaly." }).default("threshold"),
    metric: z.enum(ALERT_METRICS, { error: `metric must be one of ${ALERT_METRICS.join(", ")}.` }),
    feature: z.string().trim().min(1).max(100).nullable().optional(),
    threshold: z.number({ error: "threshold must be a number." }).finite().optional(),
    sensitivity: z.enum(SENSITIVITY_NAMES, { error: `sensitivity must be one of ${SENSITIVITY_NAMES.join(", ")}.` }).optional(),
    windowMinutes: z.number().int().min(1, "windowMinutes must be at least 1.").max(1440),
    severity: z.enum(["info", "warning", "critical"]),
    enabled: z.boolean().default(true),
    startPipeline: z.string().trim().min(1).max(60).nullable().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.kind === "anomaly") {
      if (!isAnomalyMetric(r.metric))
        ctx.addIssue({ code: "custom", path: ["metric"], message: `metric: an anomaly rule watches one of ${ANOMALY_METRICS.join(", ")}.` });
      return;
    }
    if (r.threshold === undefined) ctx.addIssue({ code: "custom", path: ["threshold"], message: "threshold must be a number." });
    if (alertMetric(r.metric).anomalyOnly)
      ctx.addIssue({ code: "custom", path: ["metric"], message: `metric: ${r.metric} is watched by anomaly rules only (kind "anomaly").` });
    if (r.sensitivity !== undefined) ctx.addIssue({ code: "custom", path: ["sensitivity"], message: "sensitivity: only anomaly rules have one." });
  });
export type RuleInput = z.input<typeof RuleInput>;

/** Resolving an incident by hand: the note says why, for the audit trail and whoever is paged next. */
export const ResolveIncidentInput = z.object({
  incidentId: z.uuid("incidentId must be an incident's id."),
  note: z.string().trim().min(1, "note is required: say why the incident is resolved.").max(2000, "note must be at most 2,000 characters."),
});
export type ResolveIncidentInput = z.input<typeof ResolveIncidentInput>;
export const ReopenIncidentInput = z.object({
  incidentId: z.uuid("incidentId must be an incident's id."),
  note: z.string().trim().min(1, "note is required: say why the incident is reopened.").max(2000, "note must be at most 2,000 characters."),
});
export type ReopenIncidentInput = z.input<typeof ReopenIncidentInput>;

/** Listing incidents: `open` is firing or acknowledged. */
export const IncidentsFilter = z.object({
  status: z.enum(["open", "firing", "acknowledged", "resolved"], { error: "status must be open, firing, acknowledged or resolved." }).optional(),
  deployment: z.string().trim().min(1).max(63).optional(),
  limit: z.coerce.number().int().min(1, "limit must be at least 1.").max(500, "limit must be at most 500.").default(100),
});
