"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { toast } from "sonner";
import { errorMessage, fieldErrors, useTRPC, type RouterOutputs } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input, Select } from "~/components/ui/field";
import { QueryWait, ready } from "~/components/ui/query-state";
import { UpdateInstanceSettingsInput } from "~/server/shared/instance.schema";

type Settings = RouterOutputs["instance"]["settings"];

/** A setting the environment pins: shown, never editable here. */
function Locked({ by }: { by?: string }) {
  if (!by) return null;
  return (
    <Badge tone="neutral" title="Set by the environment; it wins over this page. Change it there and restart Steward.">
      locked by {by}
    </Badge>
  );
}

/** Settings › Instance, for instance administrators: sign-up, workspace creation, command steps. */
export function InstanceSettings() {
  const trpc = useTRPC();
  const query = useQuery(trpc.instance.settings.queryOptions());
  if (!ready(query)) return <QueryWait query={query} rows={4} />;
  return <InstanceForm settings={query.data} />;
}

function InstanceForm({ settings }: { settings: Settings }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const locked = settings.locked;
  const [signupOpen, setSignupOpen] = useState(settings.signupOpen);
  const [domains, setDomains] = useState(settings.signupDomains.join(", "));
  const [workspaceCreation, setWorkspaceCreation] = useState(settings.workspaceCreation);
  const [commandSteps, setCommandSteps] = useState(settings.commandSteps);
  const [allowed, setAllowed] = useState(new Set(settings.commandStepWorkspaces));
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    setSignupOpen(settings.signupOpen);
    setDomains(settings.signupDomains.join(", "));
    setWorkspaceCreation(settings.workspaceCreation);
    setCommandSteps(settings.commandSteps);
    setAllowed(new Set(settings.commandStepWorkspaces));
  }, [settings]);

  const save = useMutation(
    trpc.instance.update.mutationOptions({
      onSuccess: (r) => {
        setErrors({});
        toast.success(r.changed.length ? "Instance settings saved." : "Nothing changed.");
        void queryClient.invalidateQueries(trpc.instance.pathFilter());
      },
      onError: (err) => {
        const f = fieldErrors(err);
        setErrors(f);
        if (Object.keys(f).length === 0) toast.error(errorMessage(err));
      },
    }),
  );

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const draft: Record<string, unknown> = {};
    if (!locked.signupOpen) draft.signupOpen = signupOpen;
    if (!locked.signupDomains) draft.signupDomains = domains.split(/[\s,]+/).filter(Boolean);
    if (!locked.workspaceCreation) draft.workspaceCreation = workspaceCreation;
    if (!locked.commandSteps) {
      draft.commandSteps = commandSteps;
      draft.commandStepWorkspaces = [...allowed];
    }
    const parsed = UpdateInstanceSettingsInput.safeParse(draft);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      setErrors({ [String(issue?.path[0] ?? "form")]: issue?.message ?? "Check the form." });
      return;
    }
    save.mutate(parsed.data);
  };

  return (
    <form className="space-y-6" onSubmit={submit} data-testid="instance-settings">
      <Card>
        <CardHeader
          title="Sign-up"
          description="Who can create an account. The first account of a new instance becomes its administrator; after that sign-up is closed unless you open it. Invited people can always create their account."
        />
        <div className="space-y-4 px-5 py-4">
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={signupOpen} disabled={Boolean(locked.signupOpen)} onChange={(e) => setSignupOpen(e.target.checked)} />
            Anyone can sign up{settings.signupOpenIsDefault ? " (default)" : ""} <Locked by={locked.signupOpen} />
          </label>
          <Field
            label="Allowed e-mail domains"
            htmlFor="signup-domains"
            error={errors.signupDomains}
            hint="Comma-separated, e.g. example.com, example.org. Empty: any domain. Applies to invited people and single sign-on too."
          >
            <Input
              id="signup-domains"
              value={domains}
              disabled={Boolean(locked.signupDomains)}
              onChange={(e) => setDomains(e.target.value)}
              placeholder="any domain"
            />
          </Field>
          <Locked by={locked.signupDomains} />
        </div>
      </Card>
      <Card>
        <CardHeader title="Workspaces" description="Who may create a new workspace (and become its owner)." />
        <div className="px-5 py-4">
          <Field label="Who may create workspaces" htmlFor="workspace-creation" error={errors.workspaceCreation}>
            <Select
              id="workspace-creation"
              value={workspaceCreation}
              disabled={Boolean(locked.workspaceCreation)}
              onChange={(e) => setWorkspaceCreation(e.target.value as Settings["workspaceCreation"])}
            >
              <option value="anyone">Anyone signed in</option>
              <option value="admins">Instance administrators only</option>
            </Select>
          </Field>
          <Locked by={locked.workspaceCreation} />
        </div>
      </Card>
      <Card>
        <CardHeader
          title="Command steps"
          description="Pipeline steps that run a shell command in the worker's sandbox. Turn them off, or allow them only in the workspaces you trust."
        />
        <div className="space-y-4 px-5 py-4">
          <Field label="Command steps run in" htmlFor="command-steps" error={errors.commandSteps}>
            <Select
              id="command-steps"
              value={commandSteps}
              disabled={Boolean(locked.commandSteps)}
              onChange={(e) => setCommandSteps(e.target.value as Settings["commandSteps"])}
            >
              <option value="all">Every workspace</option>
              <option value="selected">Only the workspaces chosen below</option>
              <option value="none">No workspace (off)</option>
            </Select>
          </Field>
          <Locked by={locked.commandSteps} />
          {commandSteps === "selected" && (
            <fieldset className="space-y-1" aria-label="Workspaces allowed command steps">
              {settings.workspaces.map((w) => (
                <label key={w.id} className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={allowed.has(w.id)}
                    disabled={Boolean(locked.commandSteps)}
                    onChange={(e) => {
                      const next = new Set(allowed);
                      if (e.target.checked) next.add(w.id);
                      else next.delete(w.id);
                      setAllowed(next);
                    }}
                  />
                  {w.name} <span className="text-xs text-muted">/w/{w.slug}</span>
                </label>
              ))}
              {errors.commandStepWorkspaces && (
                <p role="alert" className="text-sm text-danger">
                  {errors.commandStepWorkspaces}
                </p>
              )}
            </fieldset>
          )}
        </div>
      </Card>
      <div className="flex justify-end">
        <Button type="submit" loading={save.isPending}>
          Save instance settings
        </Button>
      </div>
    </form>
  );
}
