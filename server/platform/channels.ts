import "server-only";

/*
 * Every Postgres NOTIFY channel Steward uses, in one place: who sends on it, who LISTENs,
 * and what the payload is. Senders notify inside the transaction of the change, so a
 * notification goes out only if the change commits. LISTEN connections come from
 * db/listen.ts (listenForever), which catches up after each reconnection.
 */
export const CHANNELS = {
  /** A job was enqueued (payload: its queue name). Sent by enqueue() (server/jobs/enqueue.ts); the worker wakes that queue's consumers instead of waiting for its poll. */
  jobs: "steward_jobs",
  /** A deployment changed (payload: its id). Sent by deployments.service; every inference replica reloads it. */
  deployments: "steward_deployments",
  /** A credential changed — a key or token revoked, a role changed, a member removed (payload: the reason). Sent by credentialsChanged(); inference replicas re-check the credentials they cache. */
  credentials: "steward_credentials",
  /** socket.io's Postgres adapter, default namespace (payload: the adapter's own message format). The web replicas' adapter LISTENs; the worker and the inference process publish with server/realtime/pg-emitter.ts. */
  realtime: "socket.io#/",
} as const;

/** The adapter's `channelPrefix`: it listens on `${prefix}#${namespace}`, i.e. CHANNELS.realtime for "/". */
export const REALTIME_CHANNEL_PREFIX = "socket.io";
