/** Workspace roles, lowest first (the database enum `role` is made from this list). */
export const ROLES = ["viewer", "ml_engineer", "reviewer", "compliance_officer", "ops", "admin", "owner"] as const;
export type Role = (typeof ROLES)[number];

/**
 * The one role → permission table. Isomorphic (no server imports): components use
 * can() to hide what a role cannot do; the server enforces it in procedures.
 */
export const PERMISSIONS = [
  "workspace:read",
  "workspace:update",
  "workspace:delete",
  "member:read",
  "member:manage",
  "member:leave",
  "audit:read",
  "audit:verify",
  "audit:export",
  "system:read",
  "registry:read",
  "model:write",
  "model:alias",
  "token:create",
  "token:manage",
  "review:approve_technical",
  "review:approve_compliance",
  "deployment:manage",
  "pipeline:define",
  "pipeline:run",
  "pipeline:command",
  "deployment:predict",
  "review:participate",
  "review:sign",
  "inventory:revalidate",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const viewer = [
  "workspace:read",
  "member:read",
  "member:leave",
  "audit:read",
  "audit:verify",
  "system:read",
  "registry:read",
  "token:create",
] as const satisfies readonly Permission[];
const mlEngineer = [...viewer, "model:write", "model:alias", "pipeline:define", "pipeline:run", "deployment:predict", "review:participate"] as const;

export const ROLE_PERMISSIONS = {
  viewer,
  ml_engineer: mlEngineer,
  reviewer: [...mlEngineer, "review:approve_technical", "review:sign"],
  // Recording a revalidation by hand is a compliance attestation, not cumulative (like compliance approval).
  compliance_officer: [...mlEngineer, "review:approve_compliance", "review:sign", "audit:export", "inventory:revalidate"],
  ops: [...mlEngineer, "deployment:manage"],
  admin: [
    ...mlEngineer,
    "review:approve_technical",
    "review:sign",
    "deployment:manage",
    "audit:export",
    "workspace:update",
    "member:manage",
    "token:manage",
    "pipeline:command",
  ],
  owner: [
    ...mlEngineer,
    "review:approve_technical",
    "review:sign",
    "deployment:manage",
    "audit:export",
    "workspace:update",
    "member:manage",
    "token:manage",
    "pipeline:command",
    "workspace:delete",
  ],
} as const satisfies Record<Role, readonly Permission[]>;

export function can(role: Role, permission: Permission): boolean {
  return (ROLE_PERMISSIONS[role] as readonly Permission[]).includes(permission);
}

/** The roles holding a permission (to find who to notify, in a query): rules never list roles by hand. */
export function rolesWith(permission: Permission): Role[] {
  return ROLES.filter((r) => can(r, permission));
}

/** Withdrawing or re-basing a review request: whoever opened it, or someone who may change the workspace's settings. */
export function mayManageRequest(role: Role, userId: string, requestedBy: string): boolean {
  return requestedBy === userId || can(role, "workspace:update");
}

export const ROLE_LABELS: Record<Role, string> = {
  viewer: "Viewer",
  ml_engineer: "ML engineer",
  reviewer: "Reviewer",
  compliance_officer: "Compliance officer",
  ops: "Ops",
  admin: "Admin",
  owner: "Owner",
};

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  viewer: "Reads the workspace.",
  ml_engineer: "Registers models and datasets, runs pipelines, opens reviews, comments.",
  reviewer: "Approves or rejects technical reviews.",
  compliance_officer: "Approves or rejects compliance reviews; exports audit and reports.",
  ops: "Deploys, rolls back, manages alerts.",
  admin: "Manages members, tokens, policies and settings.",
  owner: "Everything, including deleting or transferring the workspace.",
};

/** Who may do what `permission` allows, in words: "ML engineers, reviewers, admins and owners". */
export function rolesThatCan(permission: Permission): string {
  const plural: Record<Role, string> = {
    viewer: "viewers",
    ml_engineer: "ML engineers",
    reviewer: "reviewers",
    compliance_officer: "compliance officers",
    ops: "ops",
    admin: "admins",
    owner: "owners",
  };
  const who = ROLES.filter((r) => can(r, permission)).map((r) => plural[r]);
  return who.length <= 1 ? (who[0] ?? "nobody") : `${who.slice(0, -1).join(", ")} and ${who.at(-1)}`;
}

/** Why the role cannot do it, and who can: shown beside a disabled control. */
export function permissionReason(role: Role, permission: Permission, action: string): string {
  return `Your role (${ROLE_LABELS[role]}) cannot ${action}: ${rolesThatCan(permission)} can. An admin or owner can change your role in Settings › Members.`;
}
