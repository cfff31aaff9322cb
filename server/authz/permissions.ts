import { ROLES, type Role } from "~/db/schema/identity";

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
  compliance_officer: [...mlEngineer, "review:approve_compliance", "review:sign", "audit:export"],
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

export { ROLES };
export type { Role };
