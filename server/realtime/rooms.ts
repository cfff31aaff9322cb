export const workspaceRoom = (workspaceId: string) => `workspace:${workspaceId}`;
export const userRoom = (userId: string) => `user:${userId}`;
export const reviewRoom = (requestId: string) => `review:${requestId}`;

/** Socket events are invalidation hints (ids and a version), never data. */
export type RealtimeEvents = {
  "audit.appended": { workspaceId: string; seq: number };
  "members.changed": { workspaceId: string };
  "workspace.access_revoked": { workspaceId: string };
  "workspace.access_granted": { workspaceId: string };
  "system.changed": Record<string, never>;
  /** A step started, logged lines or finished: refetch the run (and the step's log). */
  "deployment.changed": { workspaceId: string; deploymentId: string };
  "pipeline.progress": { workspaceId: string; runId: string; stepRunId?: string };
  /** Something in a review changed (comment, signature, card, state): refetch the room. */
  "review.changed": { workspaceId: string; requestId: string; number: number };
  /** The user's inbox changed: refetch the unread count. */
  "notification.created": { userId: string };
  /** New rollups or drift for a deployment: refetch its dashboards. */
  "monitoring.updated": { workspaceId: string; deploymentId: string };
  /** This account's sessions were ended (deactivated, or "sign out everywhere"). */
  "session.ended": { userId: string };
};
export type RealtimeEvent = keyof RealtimeEvents;
