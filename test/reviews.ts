import type { PolicyRules } from "~/db/schema/reviews";
import { createUser } from "~/db/seed/factories";
import type { WorkspaceActor } from "~/server/audit/actor";
import { acceptInvitation, inviteMember } from "~/server/identity/members.service";
import { decidePolicyChange, savePolicy } from "~/server/reviews/policies.service";

type Ws = { workspace: { id: string }; owner: { wsActor: WorkspaceActor }; members: { role: string; wsActor: WorkspaceActor }[] };

/**
 * Test helper: puts a policy in force for an alias through the real two-person path. The
 * owner proposes it; on a protected alias another admin or owner of the workspace approves
 * (one is invited as admin when the workspace has none, and returned).
 */
export async function applyPolicy(
  ws: Ws,
  alias: string,
  rules: Partial<PolicyRules> & Pick<PolicyRules, "requiredApprovals" | "minDistinctApprovers">,
  opts: { active?: boolean } = {},
) {
  const full: PolicyRules = { requiredChecks: [], allowRequesterApproval: false, approvalValidDays: 30, ...rules };
  const saved = await savePolicy(ws.owner.wsActor, { alias, rules: full, active: opts.active ?? true });
  if (!saved.pending) return { version: saved.version, approver: null };
  let approver = ws.members.find((m) => m.role === "admin" || m.role === "owner")?.wsActor;
  if (!approver) {
    const user = await createUser();
    const inv = await inviteMember(ws.owner.wsActor, { workspaceId: ws.workspace.id, email: user.email, role: "admin" });
    await acceptInvitation(user.actor, inv.token);
    approver = { ...user.actor, workspaceId: ws.workspace.id, role: "admin" };
  }
  const out = await decidePolicyChange(approver, { id: saved.changeId, decision: "approve" });
  return { version: out.status === "approved" ? out.version : null, approver };
}
