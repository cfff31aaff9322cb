"use client";

import { useQuery } from "@tanstack/react-query";
import { Download } from "lucide-react";
import { useCan, useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge } from "~/components/ui/badge";
import { Button } from "~/components/ui/button";
import { Card } from "~/components/ui/card";
import { EmptyState, PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { TimeAgo } from "~/components/ui/time";
import { ROLE_LABELS } from "~/server/shared/permissions";
import { accessReviewCsv } from "~/server/shared/access-review.csv";

export function AccessReviewPage() {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const allowed = useCan("audit:export");
  const review = useQuery({ ...trpc.governance.accessReview.queryOptions({ workspaceId: workspace.id }), enabled: allowed });

  function download() {
    if (!review.data) return;
    const blob = new Blob([accessReviewCsv(review.data)], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `access-review-${workspace.slug}-${new Date().toISOString().slice(0, 10)}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  }

  if (!allowed) {
    return (
      <>
        <PageHeader title="Access review" />
        <Card>
          <EmptyState title="Only compliance officers, admins and owners review access" />
        </Card>
      </>
    );
  }
  return (
    <>
      <PageHeader
        title="Access review"
        description="Who can reach this workspace, with which role and tokens, and when they last did anything."
        actions={
          <Button variant="secondary" onClick={download} disabled={!review.data}>
            <Download className="size-4" aria-hidden /> Export CSV
          </Button>
        }
      />
      <Card>
        {!ready(review) ? (
          <QueryWait query={review} rows={5} />
        ) : (
          <table className="w-full text-sm" data-testid="access-review">
            <thead className="bg-subtle text-left text-xs text-muted">
              <tr>
                <th className="px-5 py-2 font-medium">Person</th>
                <th className="px-5 py-2 font-medium">Role</th>
                <th className="px-5 py-2 font-medium">Member since</th>
                <th className="px-5 py-2 font-medium">Last sign-in</th>
                <th className="px-5 py-2 font-medium">Last activity</th>
                <th className="px-5 py-2 font-medium">Active API tokens</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-border">
              {review.data.map((p) => (
                <tr key={p.userId}>
                  <td className="px-5 py-2.5">
                    <div className="font-medium">{p.name}</div>
                    <div className="text-xs text-muted">{p.email}</div>
                  </td>
                  <td className="px-5 py-2.5">
                    <Badge tone={p.role === "owner" || p.role === "admin" ? "serving" : "neutral"}>{ROLE_LABELS[p.role]}</Badge>
                  </td>
                  <td className="px-5 py-2.5 text-muted">
                    <TimeAgo date={p.memberSince} />
                  </td>
                  <td className="px-5 py-2.5 text-muted">{p.lastSignInAt ? <TimeAgo date={p.lastSignInAt} /> : "never"}</td>
                  <td className="px-5 py-2.5 text-muted">{p.lastActivityAt ? <TimeAgo date={new Date(p.lastActivityAt)} /> : "none"}</td>
                  <td className="px-5 py-2.5 text-xs">
                    {p.tokens.length ? p.tokens.map((t) => `${t.name} (${ROLE_LABELS[t.role]})`).join(", ") : <span className="text-muted">none</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}
