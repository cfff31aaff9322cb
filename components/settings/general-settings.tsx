"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, fieldErrors, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { Field, Input } from "~/components/ui/field";

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
      <Card>
        <CardHeader title="Leave this workspace" description="You lose access at once. The last owner cannot leave." />
        <div className="p-5">
          <Button
            variant="danger"
            loading={leave.isPending}
            onClick={() => {
              if (window.confirm(`Leave ${workspace.name}?`)) leave.mutate({ workspaceId: workspace.id });
            }}
          >
            Leave workspace
          </Button>
        </div>
      </Card>
    </div>
  );
}
