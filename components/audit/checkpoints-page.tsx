"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { PenLine } from "lucide-react";
import { toast } from "sonner";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { errorMessage, useTRPC } from "~/components/trpc/client";
import { Button } from "~/components/ui/button";
import { Card, CardHeader } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";

export function CheckpointsPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canSign = useCan("audit:export");
  const data = useQuery(trpc.audit.checkpoints.queryOptions({ workspaceId: workspace.id }));
  const sign = useMutation(
    trpc.audit.signCheckpoint.mutationOptions({
      onSuccess: (cp) => {
        toast.success(cp ? `Checkpoint signed at #${cp.seq}.` : "Nothing new to sign.");
        void qc.invalidateQueries({ queryKey: trpc.audit.pathKey() });
      },
      onError: (e) => toast.error(errorMessage(e)),
    }),
  );
  return (
    <>
      <PageHeader
        title="Signed checkpoints"
        description="The head of this workspace's chain, signed with the server's Ed25519 key every few minutes and on demand. With an export and the public key, anyone can verify the trail offline: steward audit verify export.ndjson --public-key key.pem"
        actions={
          canSign ? (
            <Button onClick={() => sign.mutate({ workspaceId: workspace.id })} loading={sign.isPending}>
              <PenLine className="size-4" aria-hidden /> Sign checkpoint now
            </Button>
          ) : undefined
        }
      />
      {!ready(data) ? (
        <QueryWait query={data} rows={5} />
      ) : (
        <div className="space-y-6">
          <Card>
            <CardHeader title="Public key" description={`Ed25519 · key id ${data.data.key.keyId} · also at /api/v1/audit/public-key`} />
            <pre className="overflow-x-auto p-5 font-mono text-xs" data-testid="public-key">
              {data.data.key.publicKeyPem}
            </pre>
          </Card>
          <Card>
            {data.data.checkpoints.length === 0 ? (
              <EmptyState title="No checkpoints yet">The worker signs one within minutes of the first change; or sign one now.</EmptyState>
            ) : (
              <table className="w-full text-sm" data-testid="checkpoints-table">
                <thead className="bg-subtle text-left text-xs text-muted">
                  <tr>
                    <th className="px-5 py-2 font-medium">Up to event</th>
                    <th className="px-5 py-2 font-medium">Head hash</th>
                    <th className="px-5 py-2 font-medium">Signed</th>
                    <th className="px-5 py-2 font-medium">Key</th>
                    <th className="px-5 py-2 font-medium">Signature</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-border">
                  {data.data.checkpoints.map((c) => (
                    <tr key={c.id}>
                      <td className="px-5 py-2.5 font-mono">#{c.seq}</td>
                      <td className="px-5 py-2.5 font-mono text-xs" title={c.headHash}>
                        {c.headHash.slice(0, 16)}…
                      </td>
                      <td className="px-5 py-2.5 text-muted">
                        <TimeAgo date={c.signedAt} />
                      </td>
                      <td className="px-5 py-2.5 font-mono text-xs">{c.keyId}</td>
                      <td className="px-5 py-2.5 font-mono text-xs text-muted" title={c.signature}>
                        {c.signature.slice(0, 24)}…
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        </div>
      )}
    </>
  );
}
