export const workspaceRoom = (workspaceId: string) => `workspace:${workspaceId}`;
export const userRoom = (userId: string) => `user:${userId}`;

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
};
export type RealtimeEvent = keyof RealtimeEvents;
