import { ROLE_LABELS, type Role } from "~/server/authz/permissions";

type EventLike = {
  action: string;
  actorLabel: string | null;
  actorType: string;
  changes: Record<string, [unknown, unknown]> | null;
  metadata: Record<string, unknown> | null;
};

const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v ?? null));
const role = (r: unknown) => (typeof r === "string" && r in ROLE_LABELS ? ROLE_LABELS[r as Role] : String(r));

/** One readable sentence per audit event, for the activity feed and the audit table. */
export function describeEvent(e: EventLike): string {
  const who = e.actorLabel ?? (e.actorType === "system" ? "Steward" : "Someone");
  const m = e.metadata ?? {};
  const c = e.changes ?? {};
  const email = typeof m.email === "string" ? m.email : "a member";
  switch (e.action) {
    case "workspace.created":
      return `${who} created the workspace "${str(c.name?.[1])}"`;
    case "workspace.renamed":
      return `${who} renamed the workspace from "${str(c.name?.[0])}" to "${str(c.name?.[1])}"`;
    case "member.invited":
      return `${who} invited ${email} as ${role(c.role?.[1])}`;
    case "invitation.revoked":
      return m.replaced ? `${who} replaced an open invitation` : `${who} revoked the invitation for ${email}`;
    case "invitation.accepted":
      return `${who} accepted an invitation`;
    case "member.joined":
      return `${email} joined as ${role(c.role?.[1])}`;
    case "member.role_changed":
      return `${who} changed ${email}'s role from ${role(c.role?.[0])} to ${role(c.role?.[1])}`;
    case "member.removed":
      return `${who} removed ${email} (${role(c.role?.[0])})`;
    case "member.left":
      return `${who} left the workspace`;
    case "user.signed_in":
      return `${who} signed in${m.method === "oidc" ? " with single sign-on" : ""}`;
    case "user.signed_out":
      return `${who} signed out`;
    case "user.signed_up":
      return `${email} created an account`;
    case "user.sign_in_failed":
      return `Failed sign-in for ${email}`;
    case "audit.verified":
      return m.intact ? `${who} verified the audit chain: intact` : `${who} verified the audit chain: broken at #${str(m.firstBadSeq)}`;
    default:
      return `${who}: ${e.action}`;
  }
}
