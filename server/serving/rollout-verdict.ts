/*
 * The rule that turns replica reports into a rollout's state. Pure, so every case —
 * a replica that fails, one that dies mid-rollout, none at all — is tested directly.
 *
 *   failed   a replica reports it could not load this revision (after the rollout began)
 *   live     at least one replica is ready and every ready replica serves this revision
 *   failed   the timeout passed: nobody ready ("no replica reported"), or the ready
 *            replicas that stayed silent are named
 *   pending  otherwise — never live on a guess
 */

export type Verdict =
  { status: "live"; reports: Record<string, string> } | { status: "failed"; reason: string; replica: string | null; revert: boolean } | null;

export type ReplicaReport = { replica: string; revision: number; failedRevision: number | null; error: string | null; reportedAt: Date };

export function decideRollout(input: {
  rollout: { revision: number; createdAt: Date; fromRevision: number | null };
  /** Replicas whose heartbeat is recent and who said they are ready. */
  ready: string[];
  /** Every replica's latest report for this deployment. */
  reports: ReplicaReport[];
  now: Date;
  timeoutMs: number;
}): Verdict {
  const { rollout: r, reports, now } = input;
  const ready = new Set(input.ready);
  const failed = reports.find((x) => x.failedRevision === r.revision && x.reportedAt >= r.createdAt && x.revision < r.revision);
  // The replica that could not load it still serves the previous revision: revert so the record matches.
  if (failed) return { status: "failed", reason: failed.error ?? "the replica could not load it", replica: failed.replica, revert: r.fromRevision !== null };
  const serving = reports.filter((x) => ready.has(x.replica) && x.revision >= r.revision);
  if (ready.size > 0 && serving.length === ready.size)
    return { status: "live", reports: Object.fromEntries(serving.map((x) => [x.replica, x.reportedAt.toISOString()])) };
  if (now.getTime() - r.createdAt.getTime() < input.timeoutMs) return null;
  const secs = Math.round(input.timeoutMs / 1000);
  if (!ready.size)
    return { status: "failed", reason: `no replica reported within ${secs} s (is the inference process running?)`, replica: null, revert: false };
  const silent = [...ready].filter((x) => !serving.some((s) => s.replica === x)).sort();
  return {
    status: "failed",
    reason: `replica ${silent.join(", ")} did not report serving revision ${r.revision} within ${secs} s`,
    replica: silent[0] ?? null,
    revert: false,
  };
}
