import type { Role } from "~/db/schema/identity";

/** Who is acting. Services take an actor, never a raw session. */
export type UserActor = { type: "user"; userId: string; email: string };
export type WorkspaceActor = UserActor & { workspaceId: string; role: Role };
export type SystemActor = { type: "system"; job: string; workspaceId?: string };
export type AnonymousActor = { type: "anonymous"; label?: string };
export type Actor = UserActor | WorkspaceActor | SystemActor | AnonymousActor;

export type RequestMeta = { requestId?: string; ip?: string };
