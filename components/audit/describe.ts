import { ROLE_LABELS, type Role } from "~/server/shared/permissions";

type EventLike = {
  action: string;
  actorLabel: string | null;
  /** The person's name, where the actor is a user (the label is their e-mail). */
  actorName?: string | null;
  actorType: string;
  changes: Record<string, [unknown, unknown]> | null;
  metadata: Record<string, unknown> | null;
};

const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v ?? null));
const role = (r: unknown) => (typeof r === "string" && r in ROLE_LABELS ? ROLE_LABELS[r as Role] : String(r));

/** One readable sentence per audit event, for the activity feed and the audit table. */
export function describeEvent(e: EventLike): string {
  const who = e.actorName ?? e.actorLabel ?? (e.actorType === "system" ? "Steward" : "Someone");
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
    case "workspace.retention_changed":
      return `${who} set prediction-log retention from ${str(c.predictionRetentionDays?.[0])} to ${str(c.predictionRetentionDays?.[1])} days${m.reason === "framework_floor" ? ` (the minimum of ${str(m.framework)})` : ""}`;
    case "workspace.downloads_changed":
      return c.viewerDownloads?.[1] ? `${who} let viewers download model and dataset files` : `${who} stopped viewers from downloading model and dataset files`;
    case "workspace.frameworks_changed": {
      const after = Array.isArray(c.frameworks?.[1]) ? (c.frameworks[1] as unknown[]).map(String) : [];
      return `${who} set the compliance frameworks to ${after.length ? after.join(", ") : "the defaults (every framework in force)"}`;
    }
    case "model.version_downloaded":
    case "dataset.version_downloaded":
      return `${who} downloaded ${str(m.name)} v${str(m.version)}${m.range ? ` (bytes ${str(m.range)})` : ""}`;
    case "dataset.created":
      return `${who} created the dataset ${str(m.name)}`;
    case "dataset.version_created":
      return `${who} uploaded ${str(m.name)}@${str(m.version)}${typeof m.rows === "number" ? ` (${m.rows.toLocaleString("en")} rows)` : ""}`;
    case "pipeline.created":
      return `${who} created the pipeline ${str(m.name)}${m.default ? " (the default)" : ""}`;
    case "pipeline.updated":
      return `${who} saved version ${str(c.version?.[1])} of the pipeline ${str(m.name)}`;
    case "pipeline.run_started":
      return `${who} started run #${str(m.number)} of ${str(m.pipeline)}${typeof m.model === "string" ? ` on ${m.model}` : ""} (${str(m.trigger).replace("_", " ")})`;
    case "pipeline.run_cancelled":
      return `${who} cancelled run #${str(m.number)} of ${str(m.pipeline)}`;
    case "pipeline.step_finished":
      return `Step ${str(m.step)} of run #${str(m.number)} ${str(m.status)}${typeof m.checks === "string" ? `: ${m.checks}` : ""}`;
    case "pipeline.step_retried":
      return `Step ${str(m.step)} of run #${str(m.number)} was retried (attempt ${str(m.attempt)}): ${str(m.reason)}`;
    case "pipeline.run_finished":
      return `Run #${str(m.number)} of ${str(m.pipeline)}${typeof m.model === "string" ? ` on ${m.model}` : ""} ${str(m.status)}`;
    case "deployment.deployed":
    case "deployment.traffic_changed":
    case "deployment.canary_promoted":
    case "deployment.rolled_back":
    case "deployment.canary_rolled_back":
    case "deployment.alias_followed":
    case "deployment.settings_changed":
    case "deployment.stopped":
    case "deployment.started":
    case "deployment.follow_changed":
    case "deployment.rollout_reverted":
      return `${who} · ${str(m.name)}: ${str(m.summary)}`;
    case "deployment.rollout_live":
      return `${str(m.name)}: the rollout of revision ${str(m.revision)} (v${str(m.primary)}) is live on ${Array.isArray(m.replicas) ? m.replicas.length : "?"} replica(s)`;
    case "deployment.rollout_failed":
      return `${str(m.name)}: the rollout of v${str(m.primary)} failed${typeof m.replica === "string" ? ` on ${m.replica}` : ""}: ${str(m.reason)}`;
    case "deployment.reapproval_due":
      return `${str(m.name)}: v${str(m.version)} serves "${str(m.alias)}" past its approval's validity; re-approval is due`;
    case "deployment.key_created":
      return `${who} created the key "${str(m.name)}" (${str(m.prefix)}…) for ${str(m.deployment)}`;
    case "deployment.key_revoked":
      return `${who} revoked the deployment key "${str(m.name)}" (${str(m.prefix)}…)`;
    case "policy.saved":
      return `${who} saved the approval policy for "${str(m.alias)}" (version ${str(m.version)})${c.active && c.active[1] === false ? ": switched off" : ""}`;
    case "policy.change_proposed":
      return `${who} proposed a change to the approval policy for "${str(m.alias)}"${c.active && c.active[1] === false ? " (switch it off)" : ""}; it waits for another admin or owner`;
    case "policy.change_approved":
      return `${who} approved the change to the approval policy for "${str(m.alias)}": version ${str(m.version)} applies`;
    case "policy.change_rejected":
      return m.stale
        ? `${who} could not approve a change to the approval policy for "${str(m.alias)}": it was proposed against version ${str(m.baseVersion)}, now ${str(m.currentVersion)}`
        : `${who} rejected the change to the approval policy for "${str(m.alias)}"`;
    case "policy.change_withdrawn":
      return `${who} withdrew their change to the approval policy for "${str(m.alias)}"`;
    case "review.superseded":
      return m.alreadyHolds
        ? `Review #${str(m.number)}: v${str(m.holder)} already holds ${str(m.alias)}, nothing left to approve`
        : `Review #${str(m.number)} superseded: v${str(m.holder)} now holds ${str(m.alias)}; its approvals no longer count`;
    case "review.rebased":
      return `${who} re-based review #${str(m.number)} on ${m.holder === null ? "the current state" : `v${str(m.holder)}`} (round ${str((c.round?.[1] as number | undefined) !== undefined ? (c.round![1] as number) + 1 : "?")}): signatures are collected again`;
    case "review.opened":
      return `${who} opened review #${str(m.number)}: ${str(m.model)} v${str(m.version)} → ${str(m.alias)}`;
    case "review.card_edited":
      return `${who} edited the model card of review #${str(m.number)} (revision ${str(m.revision)})`;
    case "review.withdrawn":
      return `${who} withdrew review #${str(m.number)}`;
    case "review.changes_requested":
      return `${who} requested changes on review #${str(m.number)}: ${str(m.reason)}`;
    case "review.changes_cleared":
      return `${who} cleared their change request on review #${str(m.number)}`;
    case "review.signed":
      return `${str(m.signer)} (${role(m.role)}) signed review #${str(m.number)}: ${m.decision === "approve" ? "approved" : "rejected"} — "${str(m.meaning)}"`;
    case "review.signature_refused":
      return `${who} failed to sign review #${str(m.number)}: ${SIGN_REFUSALS[str(m.reason)] ?? "wrong password"}`;
    case "review.approved":
      return `Review #${str(m.number)} approved: ${str(m.model)} v${str(m.version)} moved to ${str(m.alias)}`;
    case "review.rejected":
      return `Review #${str(m.number)} rejected by ${str(m.by)}: ${str(m.reason)}`;
    case "review.commented":
      return `${who} commented on review #${str(m.number)}${m.anchor && m.anchor !== "general" ? ` (${str(m.anchor)})` : ""}`;
    case "review.comment_edited":
      return `${who} edited a comment on review #${str(m.number)}`;
    case "review.thread_resolved":
      return `${who} resolved a thread on review #${str(m.number)}`;
    case "review.thread_reopened":
      return `${who} reopened a thread on review #${str(m.number)}`;
    case "instance.settings_updated":
      return `${who} changed the instance settings: ${Object.keys(c).join(", ") || "nothing"}`;
    case "user.deactivated":
      return `${who} deactivated the account ${str(m.email)}`;
    case "user.reactivated":
      return `${who} reactivated the account ${str(m.email)}`;
    case "webhook.created":
      return `${who} added the webhook "${str(m.name)}" (${str(m.url)})`;
    case "webhook.updated":
      return `${who} changed the webhook "${str(m.name)}"`;
    case "webhook.deleted":
      return `${who} deleted the webhook "${str(m.name)}" (${str(m.url)})`;
    case "webhook.enabled":
      return `${who} switched the webhook "${str(m.name)}" on`;
    case "webhook.disabled":
      return m.automatic
        ? `The webhook "${str(m.name)}" was switched off after repeated failures: ${str(m.reason)}`
        : `${who} switched the webhook "${str(m.name)}" off`;
    case "alert.rule_saved":
      return `${who} ${m.created ? "added" : "changed"} the alert rule "${str(m.rule)}" on ${str(m.deployment)}`;
    case "alert.rule_deleted":
      return `${who} deleted the alert rule "${str(m.rule)}" on ${str(m.deployment)}`;
    case "alert.fired":
      return `Alert "${str(m.rule)}" fired (${str(m.severity)}): ${str(m.message)}`;
    case "alert.acknowledged":
      return `${who} acknowledged the alert: ${str(m.message)}`;
    case "alert.resolved":
      return e.actorType === "user"
        ? `${who} resolved the alert "${str(m.rule)}" on ${str(m.deployment)}: ${str(m.note)}`
        : `Alert "${str(m.rule)}" on ${str(m.deployment)} resolved by itself`;
    case "alert.reopened":
      return `${who} reopened the alert "${str(m.rule)}" on ${str(m.deployment)}: ${str(m.note)}`;
    case "monitoring.drift_requested":
      return `${who} asked for drift of ${str(m.name)} over the last ${str(m.windowMinutes)} minutes`;
    case "user.password_set":
      return `${who} set a password for signing`;
    case "user.sessions_revoked":
      return `${who} ended every session of ${str(m.email)}`;
    case "webhook.history_pruned":
      return `Retention removed ${str(m.deliveries)} finished webhook deliveries (${str(m.attempts)} attempts) older than ${str(m.before).slice(0, 10)}`;
    case "prediction_logs.purged":
      return `Retention removed ${str(m.predictions)} prediction log(s)${m.feedback ? ` and ${str(m.feedback)} ground-truth label(s)` : ""} older than ${str(m.before).slice(0, 10)}`;
    case "model.created":
      return `${who} created the model ${str(m.name)}`;
    case "model.version_registered":
      return `${who} registered ${str(m.name)}@${str(m.version)}${m.loadable === false ? " (does not load)" : ""}`;
    case "model.alias_moved": {
      const alias = str(m.alias);
      const ch = c[alias];
      return `${who} pointed ${str(m.name)}:${alias} at v${str(ch?.[1])}${ch?.[0] !== null && ch?.[0] !== undefined ? ` (was v${str(ch[0])})` : ""}`;
    }
    case "model.alias_removed":
      return `${who} removed the alias ${str(m.alias)} from ${str(m.name)}`;
    case "model.inventory_updated":
      return `${who} updated the inventory entry of ${str(m.name)}${c.riskTier ? ` (risk tier ${str(c.riskTier[1])}${c.riskTier[0] ? `, was ${str(c.riskTier[0])}` : ""})` : ""}`;
    case "model.revalidated":
      return `${who} recorded a revalidation of ${str(m.name)}: ${str(m.note)}`;
    case "model.revalidation_due":
      return `Revalidation of ${str(m.name)} ${m.status === "overdue" ? "is overdue" : "is due"} (due ${str(m.dueAt).slice(0, 10)}); ${m.notified === 1 ? "1 person" : `${str(m.notified)} people`} notified`;
    case "token.created":
      return `${who} created the API token "${str(m.name)}" (${role(m.role)})`;
    case "token.revoked":
      return `${who} revoked the API token "${str(m.name)}"`;
    case "audit.checkpoint_signed":
      return `${who} signed a checkpoint of the chain at #${str(m.seq)}`;
    case "audit.verification_failed":
      return `Checkpoint signing refused: the ${m.workspaceId ? "workspace's" : "instance"} audit chain does not verify at event #${str(m.firstBadSeq)} (${str(m.reason)})`;
    case "audit.exported":
      return `${who} exported the audit trail as ${str(m.format).toUpperCase()}`;
    default:
      return `${who}: ${e.action}`;
  }
}

/** Why a re-authentication for a signature failed (server/reviews/signing.service.ts, sso-signing.service.ts). */
const SIGN_REFUSALS: Record<string, string> = {
  wrong_password: "wrong password",
  sso_error: "the identity provider refused the login",
  sso_invalid_response: "the identity provider's answer could not be verified",
  sso_no_auth_time: "the identity provider did not say when they logged in",
  sso_stale_login: "the identity provider did not ask for their credentials again",
  sso_no_email: "no verified e-mail from the identity provider",
  sso_other_person: "logged in at the identity provider as someone else",
  sso_cancelled: "cancelled",
  sso_expired: "took longer than allowed",
  locked: "signing was locked after refused attempts",
  not_a_member: "no longer a member",
  refused_by_policy: "the review's rules refused it",
};
