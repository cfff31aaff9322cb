/** Every audit action, `resource.past_tense`. Adding one is a reviewed change to this list. */
export const AUDIT_ACTIONS = [
  "user.signed_up",
  "user.signed_in",
  "user.sign_in_failed",
  "user.signed_out",
  "workspace.created",
  "workspace.renamed",
  "member.invited",
  "invitation.revoked",
  "invitation.accepted",
  "member.joined",
  "member.role_changed",
  "member.removed",
  "member.left",
  "audit.verified",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
