export const workspaceRoom = (workspaceId: string) => `workspace:${workspaceId}`;
export const userRoom = (userId: string) => `user:${userId}`;
export const reviewRoom = (requestId: string) => `review:${requestId}`;
/** The sockets opened with one sign-in session (its `sid`), closed when that session signs out. */
export const sessionRoom = (sid: string) => `session:${sid}`;
/** Sockets of a workspace's members that show a live dashboard now (they ask to join; members only). */
export const liveRoom = (workspaceId: string) => `live:${workspaceId}`;

/**
 * One second of one inference replica, for the live edge of the dashboards: aggregate
 * counts only (no inputs, no outputs), sent to the workspace's room.
 */
export type LiveTick = {
  workspaceId: string;
  /** Start of the second (ms since the epoch). */
  t: number;
  /** `log`: the replica's prediction log since it started (absent from replicas of an older release). */
  replica: {
    id: string;
    cpuPct: number;
    rssBytes: number;
    heapBytes: number;
    inFlight: number;
    inFlightRuns: number;
    loopLagMs: number;
    log?: { written: number; dropped: number; buffered: number };
  };
  deployments: { id: string; series: { key: string; requests: number; errors: number; buckets: number[] }[]; runs: number; rows: number; maxRows: number }[];
};

/**
 * Socket events are invalidation hints (ids and a version), never records: the client
 * refetches through tRPC, where authorization lives. The one exception is
 * monitoring.live, which carries aggregate counts a member of the workspace may see.
 */
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
  /** The last second of an inference replica (see LiveTick), to the workspace's live room. */
  "monitoring.live": LiveTick;
  /** This account's sessions were ended (deactivated, or "sign out everywhere"). */
  "session.ended": { userId: string };
};
export type RealtimeEvent = keyof RealtimeEvents;
