"use client";

import * as D from "@radix-ui/react-dialog";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { X } from "lucide-react";
import { useMemo, useState } from "react";
import { toast } from "sonner";
import { useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Dialog } from "~/components/ui/dialog";
import { Field, Input, Select } from "~/components/ui/field";
import { askedQuestions, assessRisk, SUGGESTED_CADENCE_DAYS } from "~/server/shared/inventory.risk";
import { InventoryData, RevalidationData, type RiskAnswers } from "~/server/shared/inventory.schema";
import { TierBadge } from "./inventory-badges";

type Entry = {
  name: string;
  owner: { id: string } | null;
  intendedUse: string | null;
  riskAnswers: Partial<RiskAnswers> | null;
  revalidationDays: number | null;
};

/** zod issues → { "riskAnswers.purpose": message } (first message per field). */
function issuesByField(issues: { path: PropertyKey[]; message: string }[]) {
  const out: Record<string, string> = {};
  for (const i of issues) {
    const k = i.path.map(String).join(".");
    out[k] ??= i.message;
  }
  return out;
}

const textareaClass = "min-h-20 w-full rounded-md border border-border bg-panel px-3 py-2 text-sm outline-none placeholder:text-muted focus:border-accent";

/**
 * The inventory entry of one model: owner, intended use, the risk questionnaire (the tier
 * and rationale are computed live with the server's own assessRisk) and the cadence.
 * Validated with the same zod schema as the tRPC procedure and the REST route.
 */
export function InventoryDialog({ entry, open, onOpenChange }: { entry: Entry; open: boolean; onOpenChange: (o: boolean) => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const members = useQuery({ ...trpc.members.list.queryOptions({ workspaceId: workspace.id }), enabled: open });
  const [ownerId, setOwnerId] = useState(entry.owner?.id ?? "");
  const [intendedUse, setIntendedUse] = useState(entry.intendedUse ?? "");
  const [answers, setAnswers] = useState<Partial<RiskAnswers>>(entry.riskAnswers ?? {});
  const [cadence, setCadence] = useState(entry.revalidationDays ? String(entry.revalidationDays) : "");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const assessment = useMemo(() => assessRisk(answers), [answers]);
  // A field's error goes as soon as it is edited.
  const touch = (k: string) =>
    setErrors((e) => {
      if (!(k in e) && !("form" in e)) return e;
      const { [k]: _, form: __, ...rest } = e;
      return rest;
    });
  const asked = askedQuestions(answers);
  const save = useMutation(
    trpc.inventory.update.mutationOptions({
      onSuccess: (r) => {
        toast.success(`${r.name} is in the inventory as ${r.riskTier} risk.`);
        void qc.invalidateQueries({ queryKey: trpc.inventory.pathKey() });
        onOpenChange(false);
      },
      onError: (e) => {
        const f = fieldErrors(e);
        setErrors(Object.keys(f).length ? Object.fromEntries(Object.entries(f).map(([k, v]) => [k.replace(/^data\./, ""), v])) : { form: errorMessage(e) });
      },
    }),
  );

  function submit(e: React.FormEvent) {
    e.preventDefault();
    // Only the questions asked for these answers are sent (an Annex III area adds two).
    const sent: Record<string, string> = {};
    for (const q of asked) if (answers[q.id] !== undefined) sent[q.id] = answers[q.id]!;
    const parsed = InventoryData.safeParse({ ownerId, intendedUse, riskAnswers: sent, revalidationDays: cadence.trim() === "" ? undefined : cadence });
    if (!parsed.success) {
      setErrors(issuesByField(parsed.error.issues));
      return;
    }
    setErrors({});
    save.mutate({ workspaceId: workspace.id, name: entry.name, data: parsed.data });
  }

  const suggested = assessment.tier ? SUGGESTED_CADENCE_DAYS[assessment.tier] : null;
  const err = (k: string) => errors[k];
  return (
    <D.Root open={open} onOpenChange={onOpenChange}>
      <D.Portal>
        <D.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <D.Content
          className="fixed top-1/2 left-1/2 z-50 flex max-h-[90vh] w-[calc(100vw-2rem)] max-w-4xl -translate-x-1/2 -translate-y-1/2 flex-col rounded-lg border border-border bg-panel shadow-xl"
          data-testid="inventory-dialog"
        >
          <div className="flex items-start justify-between gap-4 border-b border-border px-5 py-4">
            <div>
              <D.Title className="font-semibold">Inventory entry of {entry.name}</D.Title>
              <D.Description className="mt-1 text-sm text-muted">
                Who owns it, what it is for, and how risky it is under the EU AI Act and the US interagency model risk guidance (SR 26-2 / OCC 2026-13).
              </D.Description>
            </div>
            <D.Close className="rounded p-1 text-muted hover:bg-subtle" aria-label="Close">
              <X className="size-4" />
            </D.Close>
          </div>
          <form onSubmit={submit} className="grid min-h-0 flex-1 md:grid-cols-[1fr_19rem]" noValidate>
            <div className="min-h-0 space-y-4 overflow-y-auto px-5 py-4">
              <div className="grid gap-4 sm:grid-cols-2">
                <Field label="Owner" htmlFor="inv-owner" error={err("ownerId")} hint="A member who answers for the model.">
                  <Select
                    id="inv-owner"
                    className="w-full"
                    value={ownerId}
                    onChange={(e) => {
                      setOwnerId(e.target.value);
                      touch("ownerId");
                    }}
                    aria-invalid={!!err("ownerId") || undefined}
                  >
                    <option value="">{members.isPending ? "Loading members…" : "Choose a member"}</option>
                    {(members.data ?? []).map((m) => (
                      <option key={m.userId} value={m.userId}>
                        {m.name} ({m.email})
                      </option>
                    ))}
                  </Select>
                </Field>
                <Field
                  label="Revalidate every (days)"
                  htmlFor="inv-cadence"
                  error={err("revalidationDays")}
                  hint={suggested ? `Suggested for ${assessment.tier} risk: ${suggested} days.` : "Suggested from the tier once it is computed."}
                >
                  <div className="flex gap-2">
                    <Input
                      id="inv-cadence"
                      inputMode="numeric"
                      value={cadence}
                      onChange={(e) => {
                        setCadence(e.target.value);
                        touch("revalidationDays");
                      }}
                      invalid={!!err("revalidationDays")}
                      placeholder="365"
                    />
                    {suggested && String(suggested) !== cadence && (
                      <Button
                        type="button"
                        variant="secondary"
                        size="sm"
                        className="h-9 shrink-0"
                        onClick={() => {
                          setCadence(String(suggested));
                          touch("revalidationDays");
                        }}
                      >
                        Use {suggested}
                      </Button>
                    )}
                  </div>
                </Field>
              </div>
              <Field
                label="Intended use"
                htmlFor="inv-use"
                error={err("intendedUse")}
                hint="What it decides or informs, for whom, and where it must not be used."
              >
                <textarea
                  id="inv-use"
                  className={textareaClass}
                  value={intendedUse}
                  onChange={(e) => {
                    setIntendedUse(e.target.value);
                    touch("intendedUse");
                  }}
                  aria-invalid={!!err("intendedUse") || undefined}
                />
              </Field>
              {(["eu-ai-act", "us-mrm-2026"] as const).map((fw) => (
                <section key={fw} className="space-y-3">
                  <h3 className="text-xs font-medium tracking-wide text-muted uppercase">
                    {fw === "eu-ai-act" ? "EU AI Act — is it a high-risk AI system?" : "SR 26-2 / OCC 2026-13 — materiality"}
                  </h3>
                  {asked
                    .filter((q) => q.framework === fw)
                    .map((q) => {
                      const id = `inv-q-${q.id}`;
                      const error = err(`riskAnswers.${q.id}`);
                      const set = (v: string) => {
                        setAnswers((a) => ({ ...a, [q.id]: v }));
                        touch(`riskAnswers.${q.id}`);
                      };
                      if (q.options.length > 4) {
                        return (
                          <Field key={q.id} label={q.text} htmlFor={id} error={error} hint={"help" in q ? q.help : undefined}>
                            <Select
                              id={id}
                              className="w-full"
                              value={answers[q.id] ?? ""}
                              onChange={(e) => set(e.target.value)}
                              aria-invalid={!!error || undefined}
                            >
                              <option value="">Choose…</option>
                              {q.options.map((o) => (
                                <option key={o.value} value={o.value}>
                                  {o.label}
                                </option>
                              ))}
                            </Select>
                          </Field>
                        );
                      }
                      return (
                        <fieldset key={q.id} className="space-y-1.5" aria-invalid={!!error || undefined}>
                          <legend className="text-sm font-medium">{q.text}</legend>
                          <div className="flex flex-wrap gap-x-4 gap-y-1">
                            {q.options.map((o) => (
                              <label key={o.value} className="flex items-center gap-2 text-sm">
                                <input type="radio" name={id} value={o.value} checked={answers[q.id] === o.value} onChange={() => set(o.value)} />
                                {o.label}
                              </label>
                            ))}
                          </div>
                          {error ? (
                            <p role="alert" className="text-sm text-danger">
                              {error}
                            </p>
                          ) : (
                            "help" in q && <p className="text-xs text-muted">{q.help}</p>
                          )}
                        </fieldset>
                      );
                    })}
                </section>
              ))}
            </div>
            <aside
              className="flex min-h-0 flex-col gap-3 border-t border-border bg-subtle/50 px-5 py-4 md:border-t-0 md:border-l"
              aria-live="polite"
              data-testid="inventory-assessment"
            >
              <div className="flex items-center justify-between gap-2">
                <span className="text-xs font-medium tracking-wide text-muted uppercase">Computed tier</span>
                <TierBadge tier={assessment.tier} />
              </div>
              <p className="text-sm" data-testid="inventory-rationale">
                {assessment.rationale}
              </p>
              {assessment.frameworks.length > 0 && (
                <ul className="space-y-1.5 overflow-y-auto text-xs text-muted">
                  {assessment.frameworks.map((f) => (
                    <li key={f.text} className="rounded border border-border bg-panel px-2 py-1.5">
                      {f.text}
                    </li>
                  ))}
                </ul>
              )}
              <div className="mt-auto space-y-2 pt-2">
                {err("riskAnswers") && <p className="text-sm text-danger">{err("riskAnswers")}</p>}
                {err("form") && (
                  <p role="alert" className="text-sm text-danger">
                    {err("form")}
                  </p>
                )}
                <div className="flex justify-end gap-2">
                  <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>
                    Cancel
                  </Button>
                  <Button type="submit" loading={save.isPending}>
                    Save
                  </Button>
                </div>
              </div>
            </aside>
          </form>
        </D.Content>
      </D.Portal>
    </D.Root>
  );
}

/** Compliance officers: a revalidation done outside reviews and pipelines, with what was done. */
export function RecordRevalidationDialog({ name, open, onOpenChange }: { name: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [note, setNote] = useState("");
  const [at, setAt] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const record = useMutation(
    trpc.inventory.recordRevalidation.mutationOptions({
      onSuccess: (r) => {
        toast.success(`Revalidation of ${r.name} recorded; next due ${r.dueAt ? r.dueAt.toISOString().slice(0, 10) : "—"}.`);
        void qc.invalidateQueries({ queryKey: trpc.inventory.pathKey() });
        setNote("");
        setAt("");
        onOpenChange(false);
      },
      onError: (e) => {
        const f = fieldErrors(e);
        setErrors(Object.keys(f).length ? Object.fromEntries(Object.entries(f).map(([k, v]) => [k.replace(/^data\./, ""), v])) : { form: errorMessage(e) });
      },
    }),
  );
  function submit(e: React.FormEvent) {
    e.preventDefault();
    // Today means now; an earlier day is recorded at its start (UTC).
    const today = new Date().toISOString().slice(0, 10);
    const parsed = RevalidationData.safeParse({ note, at: at && at !== today ? `${at}T00:00:00Z` : undefined });
    if (!parsed.success) {
      setErrors(issuesByField(parsed.error.issues));
      return;
    }
    setErrors({});
    record.mutate({ workspaceId: workspace.id, name, data: parsed.data });
  }
  return (
    <Dialog
      open={open}
      onOpenChange={onOpenChange}
      title={`Record a revalidation of ${name}`}
      description="For a revalidation done outside Steward. Approved reviews and passing runs of the production version count by themselves."
    >
      <form onSubmit={submit} className="space-y-4" noValidate>
        <Field
          label="What was done"
          htmlFor="reval-note"
          error={errors.note}
          hint="For example: back-test on Q3 data by the validation team; thresholds unchanged."
        >
          <textarea
            id="reval-note"
            className={textareaClass}
            value={note}
            onChange={(e) => setNote(e.target.value)}
            aria-invalid={!!errors.note || undefined}
          />
        </Field>
        <Field label="Date (optional)" htmlFor="reval-at" error={errors.at} hint="Leave empty for today.">
          <Input
            id="reval-at"
            type="date"
            value={at}
            max={new Date().toISOString().slice(0, 10)}
            onChange={(e) => setAt(e.target.value)}
            invalid={!!errors.at}
          />
        </Field>
        {errors.form && (
          <p role="alert" className="text-sm text-danger">
            {errors.form}
          </p>
        )}
        <div className="flex justify-end gap-2">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" loading={record.isPending}>
            Record revalidation
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
