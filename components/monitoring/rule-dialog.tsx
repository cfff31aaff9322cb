"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";

/** What each metric means, its unit, and which way it fires. */
export const METRICS: Record<string, { label: string; below?: boolean; hint: string }> = {
  drift_any: { label: "Drift of any input feature (PSI)", hint: "0.1 moderate, 0.25 major" },
  drift_feature: { label: "Drift of one input feature (PSI)", hint: "0.1 moderate, 0.25 major" },
  prediction_drift: { label: "Prediction drift (PSI of the outputs)", hint: "0.1 moderate, 0.25 major" },
  error_rate: { label: "Error rate", hint: "a share: 0.05 is 5%" },
  latency_p99: { label: "Latency p99 (ms)", hint: "milliseconds" },
  traffic_drop: { label: "Traffic below (requests/s)", below: true, hint: "fires when traffic falls below" },
  accuracy: { label: "Accuracy below", below: true, hint: "from labelled predictions, 0–1" },
  f1: { label: "F1 below", below: true, hint: "from labelled predictions, 0–1" },
  auc: { label: "AUC below", below: true, hint: "from labelled predictions, 0–1" },
  mae: { label: "MAE above", hint: "regression, in the label's unit" },
  rmse: { label: "RMSE above", hint: "regression, in the label's unit" },
};

export type Rule = { id: string; name: string; metric: string; feature: string | null; threshold: number; windowMinutes: number; severity: string; enabled: boolean; startPipeline: string | null };

/** Creates a rule (no `rule`) or edits one: ops, admins and owners. The server checks every field and names the one that is wrong. */
export function RuleDialog({ name, rule, features, open, onOpenChange, onSaved }: { name: string; rule: Rule | null; features: string[]; open: boolean; onOpenChange: (o: boolean) => void; onSaved: () => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const pipelines = useQuery({ ...trpc.pipelines.list.queryOptions({ workspaceId: workspace.id }), enabled: open });
  const [form, setForm] = useState(() => ({
    name: rule?.name ?? "",
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
        metric: form.metric,
        feature: form.metric === "drift_feature" ? form.feature : null,
        threshold: form.threshold.trim() === "" ? NaN : Number(form.threshold),
        windowMinutes: Number(form.windowMinutes),
        severity: form.severity,
        enabled: rule?.enabled ?? true,
        startPipeline: form.startPipeline || null,
      },
    });
  };
  const m = METRICS[form.metric]!;
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title={rule ? `Edit "${rule.name}"` : "New alert rule"} description="Evaluated every minute from the rollups, the latest drift and the labelled predictions. An incident fires once, and resolves itself when the condition clears.">
      <form className="space-y-3" noValidate onSubmit={submit} data-testid="rule-form">
        <Field label="Name" htmlFor="rule-name" error={fieldError("name")}>
          <Input id="rule-name" value={form.name} onChange={set("name")} placeholder="Income drift" invalid={!!fieldError("name")} />
        </Field>
        <Field label="Metric" htmlFor="rule-metric" error={fieldError("metric")}>
          <Select id="rule-metric" className="w-full" value={form.metric} onChange={set("metric")}>
            {Object.entries(METRICS).map(([k, v]) => (
              <option key={k} value={k}>
                {v.label}
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
          <Field label={m.below ? "Fires below" : "Fires above"} htmlFor="rule-threshold" error={fieldError("threshold")} hint={m.hint}>
            <Input id="rule-threshold" inputMode="decimal" value={form.threshold} onChange={set("threshold")} invalid={!!fieldError("threshold")} />
          </Field>
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
        {error && !["name", "threshold", "windowMinutes", "feature", "metric", "startPipeline"].includes(error.field ?? "") && (
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
