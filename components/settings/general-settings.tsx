"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";
import { FrameworksCard } from "./frameworks-card";
import { ConfirmButton } from "~/components/ui/confirm-dialog";

export function GeneralSettings() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const router = useRouter();
  const canUpdate = useCan("workspace:update");
  const [name, setName] = useState(workspace.name);
  const [error, setError] = useState<string>();
  const rename = useMutation(
    trpc.workspaces.rename.mutationOptions({
      onSuccess: () => {
        toast.success("Workspace renamed.");
        router.refresh();
      },
      onError: (err) => setError(fieldErrors(err).name ?? errorMessage(err)),
    }),
  );
  const leave = useMutation(
    trpc.members.leave.mutationOptions({
      onSuccess: () => router.replace("/workspaces"),
      onError: (err) => toast.error(errorMessage(err)),
    }),
  );
  return (
    <div className="space-y-6">
      <Card>
        <CardHeader title="Workspace" description={`Its address is /w/${workspace.slug}.`} />
        <form
          className="flex items-start gap-3 p-5"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setError(undefined);
            rename.mutate({ workspaceId: workspace.id, name });
          }}
        >
          <div className="w-80">
            <Field label="Name" htmlFor="ws-name" error={error} hint={canUpdate ? undefined : "Only admins and owners can rename the workspace."}>
              <Input id="ws-name" value={name} onChange={(e) => setName(e.target.value)} disabled={!canUpdate} invalid={!!error} />
            </Field>
          </div>
          {canUpdate && (
            <Button type="submit" className="mt-6" loading={rename.isPending} disabled={name === workspace.name}>
              Save
            </Button>
          )}
        </form>
      </Card>
      <RetentionCard />
      <DownloadsCard />
      <FrameworksCard />
      <Card>
        <CardHeader title="Leave this workspace" description="You lose access at once. The last owner cannot leave." />
        <div className="p-5">
          <ConfirmButton
            variant="danger"
            size="md"
            title={`Leave ${workspace.name}?`}
            description="Only an admin or owner can invite you back."
            consequence={`You lose access to ${workspace.name} at once, and API tokens you created in it stop working.`}
            typeToConfirm={workspace.slug}
            typeHint="Type the workspace's URL name: leaving cannot be undone by you."
            confirm="Leave workspace"
            danger
            onConfirm={() => leave.mutateAsync({ workspaceId: workspace.id })}
          >
            Leave workspace
          </ConfirmButton>
        </div>
      </Card>
    </div>
  );
}

function RetentionCard() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canUpdate = useCan("workspace:update");
  const settings = useQuery(trpc.workspaces.settings.queryOptions({ workspaceId: workspace.id }));
  const [days, setDays] = useState<string | null>(null);
  const [error, setError] = useState<string>();
  const save = useMutation(
    trpc.workspaces.setRetention.mutationOptions({
      onSuccess: () => {
        toast.success("Retention saved.");
        setDays(null);
        void qc.invalidateQueries({ queryKey: trpc.workspaces.settings.queryKey({ workspaceId: workspace.id }) });
      },
      onError: (err) => setError(fieldErrors(err).predictionRetentionDays ?? errorMessage(err)),
    }),
  );
  const value = days ?? String(settings.data?.predictionRetentionDays ?? "");
  return (
    <Card>
      <CardHeader title="Retention" description="How long prediction logs are kept. Audit events are never removed by retention." />
      <form
        className="flex items-start gap-3 p-5"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setError(undefined);
          save.mutate({ workspaceId: workspace.id, predictionRetentionDays: Number(value) });
        }}
      >
        <div className="w-48">
          <Field label="Prediction logs (days)" htmlFor="retention" error={error}>
            <Input
              id="retention"
              inputMode="numeric"
              value={value}
              onChange={(e) => setDays(e.target.value)}
              disabled={!canUpdate || settings.isPending}
              invalid={!!error}
            />
          </Field>
        </div>
        {canUpdate && (
          <Button type="submit" className="mt-6" loading={save.isPending} disabled={days === null}>
            Save
          </Button>
        )}
      </form>
    </Card>
  );
}

function DownloadsCard() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canUpdate = useCan("workspace:update");
  const settings = useQuery(trpc.workspaces.settings.queryOptions({ workspaceId: workspace.id }));
  const save = useMutation(
    trpc.workspaces.setViewerDownloads.mutationOptions({
      onSuccess: (r) => {
        toast.success(r.viewerDownloads ? "Viewers may download files." : "Viewers can no longer download files.");
        void qc.invalidateQueries({ queryKey: trpc.workspaces.settings.queryKey({ workspaceId: workspace.id }) });
      },
      onError: (err) => toast.error(errorMessage(err)),
    }),
  );
  return (
    <Card>
      <CardHeader
        title="Downloads"
        description="Every download of a model or dataset file is recorded in the audit trail. Every role but viewer may always download."
      />
      <label className="flex items-center gap-3 p-5 text-sm">
        <input
          type="checkbox"
          checked={settings.data?.viewerDownloads ?? true}
          disabled={!canUpdate || settings.isPending || save.isPending}
          onChange={(e) => save.mutate({ workspaceId: workspace.id, viewerDownloads: e.target.checked })}
        />
        Viewers may download model and dataset files
      </label>
    </Card>
  );
}
