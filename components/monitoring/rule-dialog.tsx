"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";
import { alertMetric, RULE_METRICS } from "~/server/shared/alert-metrics";
import { ANOMALY_METRIC_INFO, ANOMALY_METRICS, SENSITIVITIES, SENSITIVITY_NAMES, type AnomalyMetric } from "~/server/shared/anomaly";

export type Rule = {
  id: string;
  name: string;
  kind: "threshold" | "anomaly";
  sensitivity: string | null;
  metric: string;
  feature: string | null;
  threshold: number;
  windowMinutes: number;
  severity: string;
  enabled: boolean;
  startPipeline: string | null;
};

/** Creates a rule (no `rule`) or edits one: ops, admins and owners. The server checks every field and names the one that is wrong. */
export function RuleDialog({
  name,
  rule,
  features,
  open,
  onOpenChange,
  onSaved,
}: {
  name: string;
  rule: Rule | null;
  features: string[];
  open: boolean;
  onOpenChange: (o: boolean) => void;
  onSaved: () => void;
}) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const pipelines = useQuery({ ...trpc.pipelines.list.queryOptions({ workspaceId: workspace.id }), enabled: open });
  const [form, setForm] = useState(() => ({
    name: rule?.name ?? "",
    kind: rule?.kind ?? "threshold",
    sensitivity: rule?.sensitivity ?? "medium",
    metric: rule?.metric ?? "drift_any",
    feature: rule?.feature ?? features[0] ?? "",
    threshold: String(rule?.threshold ?? 0.2),
    windowMinutes: String(rule?.windowMinutes ?? 60),
    severity: rule?.severity ?? "warning",
    startPipeline: rule?.startPipeline ?? "",
  }));
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const save = useMutation(
    trpc.monitoring.saveRule.mutationOptions({
      onSuccess: () => {
        toast.success(rule ? "Rule saved." : "Rule added.");
        onSaved();
        onOpenChange(false);
      },
      onError: (e) => {
        const field = (e as { data?: { field?: string } }).data?.field;
        setError({ message: errorMessage(e), field: field?.replace(/^rule\./, "") });
      },
    }),
  );
  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setForm((f) => ({ ...f, [k]: e.target.value }));
  const anomaly = form.kind === "anomaly";
  // Switching kind keeps the metric when the other kind watches it too (error rate, p99 latency).
  const setKind = (kind: "threshold" | "anomaly") =>
    setForm((f) => ({
      ...f,
      kind,
      metric:
        kind === "anomaly"
          ? (ANOMALY_METRICS as readonly string[]).includes(f.metric)
            ? f.metric
            : "latency_p95"
          : RULE_METRICS.includes(f.metric as never)
            ? f.metric
            : "drift_any",
      windowMinutes: kind === "anomaly" && f.windowMinutes === "60" ? "10" : f.windowMinutes,
    }));
  const fieldError = (k: string) => (error?.field === k ? error.message : undefined);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    save.mutate({
      workspaceId: workspace.id,
      name,
      ruleId: rule?.id,
      rule: {
        name: form.name,
        kind: form.kind,
        metric: form.metric,
        feature: form.metric === "drift_feature" ? form.feature : null,
        ...(anomaly
          ? { sensitivity: form.sensitivity as (typeof SENSITIVITY_NAMES)[number] }
          : { threshold: form.threshold.trim() === "" ? NaN : Number(form.threshold) }),
        windowMinutes: Number(form.windowMinutes),
        severity: form.severity,
        enabled: rule?.enabled ?? true,
        startPipeline: form.startPipeline || null,
      },
    });
  };
  const m = alertMetric(form.metric);
  return (
    <Dialog
      open={open}
      onOpenChange={onOpenChange}
      title={rule ? `Edit "${rule.name}"` : "New alert rule"}
      description={
        anomaly
          ? "Evaluated every minute against what is normal for this deployment at this hour: the same hour of past weeks (or days, or the hours before while history is short). Learns for 12 windows before it may fire."
          : "Evaluated every minute from the rollups, the latest drift and the labelled predictions. An incident fires once, and resolves itself when the condition clears."
      }
    >
      <form className="space-y-3" noValidate onSubmit={submit} data-testid="rule-form">
        <Field label="Name" htmlFor="rule-name" error={fieldError("name")}>
          <Input
            id="rule-name"
            value={form.name}
            onChange={set("name")}
            placeholder={anomaly ? "Slow for the hour" : "Income drift"}
            invalid={!!fieldError("name")}
          />
        </Field>
        <fieldset>
          <legend className="mb-1 text-sm font-medium">Fires when</legend>
          <div role="radiogroup" className="grid grid-cols-2 gap-2">
            {(
              [
                ["threshold", "Past a threshold", "a value you set"],
                ["anomaly", "Unusual for this deployment", "learned from its own history"],
              ] as const
            ).map(([k, label, hint]) => (
              <label
                key={k}
                className={`flex cursor-pointer flex-col rounded-md border px-3 py-2 text-sm focus-within:ring-2 focus-within:ring-accent ${form.kind === k ? "border-accent bg-accent/5" : "border-border"}`}
              >
                <span className="flex items-center gap-2">
                  <input type="radio" name="rule-kind" value={k} checked={form.kind === k} onChange={() => setKind(k)} />
                  {label}
                </span>
                <span className="text-xs text-muted">{hint}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <Field label="Metric" htmlFor="rule-metric" error={fieldError("metric")}>
          <Select id="rule-metric" className="w-full" value={form.metric} onChange={set("metric")}>
            {anomaly
              ? ANOMALY_METRICS.map((k) => (
                  <option key={k} value={k}>
                    {ANOMALY_METRIC_INFO[k].label}
                  </option>
                ))
              : RULE_METRICS.map((k) => (
                  <option key={k} value={k}>
                    {alertMetric(k).label}
                  </option>
                ))}
          </Select>
        </Field>
        {form.metric === "drift_feature" && (
          <Field label="Feature" htmlFor="rule-feature" error={fieldError("feature")}>
            {features.length ? (
              <Select id="rule-feature" className="w-full" value={form.feature} onChange={set("feature")}>
                {features.map((f) => (
                  <option key={f}>{f}</option>
                ))}
              </Select>
            ) : (
              <Input id="rule-feature" value={form.feature} onChange={set("feature")} placeholder="income_k" />
            )}
          </Field>
        )}
        <div className="grid grid-cols-2 gap-3">
          {anomaly ? (
            <Field
              label="Sensitivity"
              htmlFor="rule-sensitivity"
              error={fieldError("sensitivity")}
              hint={`${ANOMALY_METRIC_INFO[form.metric as AnomalyMetric]?.direction === "both" ? "either way" : "above"} ${SENSITIVITIES[form.sensitivity as keyof typeof SENSITIVITIES] ?? ""} σ from normal`}
            >
              <Select id="rule-sensitivity" className="w-full" value={form.sensitivity} onChange={set("sensitivity")}>
                {SENSITIVITY_NAMES.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </Select>
            </Field>
          ) : (
            <Field label={m.below ? "Fires below" : "Fires above"} htmlFor="rule-threshold" error={fieldError("threshold")} hint={m.hint}>
              <Input id="rule-threshold" inputMode="decimal" value={form.threshold} onChange={set("threshold")} invalid={!!fieldError("threshold")} />
            </Field>
          )}
          <Field label="Over (minutes)" htmlFor="rule-window" error={fieldError("windowMinutes")}>
            <Input id="rule-window" inputMode="numeric" value={form.windowMinutes} onChange={set("windowMinutes")} invalid={!!fieldError("windowMinutes")} />
          </Field>
        </div>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Severity" htmlFor="rule-severity">
            <Select id="rule-severity" className="w-full" value={form.severity} onChange={set("severity")}>
              <option>info</option>
              <option>warning</option>
              <option>critical</option>
            </Select>
          </Field>
          <Field label="Then start pipeline" htmlFor="rule-pipeline" error={fieldError("startPipeline")} hint="for example retraining">
            <Select id="rule-pipeline" className="w-full" value={form.startPipeline} onChange={set("startPipeline")}>
              <option value="">none</option>
              {(pipelines.data ?? []).map((p) => (
                <option key={p.name}>{p.name}</option>
              ))}
            </Select>
          </Field>
        </div>
        {error && !["name", "threshold", "sensitivity", "windowMinutes", "feature", "metric", "startPipeline"].includes(error.field ?? "") && (
          <p role="alert" className="text-sm text-danger">
            {error.message}
          </p>
        )}
        <div className="flex justify-end gap-2 pt-2">
          <Button type="button" variant="secondary" size="sm" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" size="sm" loading={save.isPending}>
            {rule ? "Save rule" : "Add rule"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
