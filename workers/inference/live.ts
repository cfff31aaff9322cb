import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { deployments, models, modelVersions } from "~/db/schema";
import type { DeploymentSettings } from "~/db/schema/serving";
import type { OnnxSignature } from "~/db/schema/registry";
import { isBundleFilename } from "~/server/artifacts/bundle";
import { materialize, materializeBundle } from "~/server/artifacts/store";
import { isDatabaseUnavailable } from "~/server/errors";
import { formatBytes } from "~/server/shared/format";
import type { TensorData } from "~/server/shared/tensors";
import type { InferencePool } from "./pool";

/*
 * The deployments this replica serves, kept in memory. A change (NOTIFY with the
 * deployment's id) reloads one: the new versions' sessions are loaded on every thread
 * first, then the deployment is swapped in one assignment, and sessions no deployment
 * uses any more are released once their in-flight requests have finished. A request
 * therefore never sees a half-loaded version.
 */

export type LiveVersion = { id: string; version: number; sha256: string; key: string; signature: OnnxSignature; batchable: boolean; batcher: Batcher | null };
export type LiveDeployment = {
  id: string;
  workspaceId: string;
  name: string;
  model: string;
  status: "active" | "stopped";
  revision: number;
  settings: DeploymentSettings;
  primary: LiveVersion;
  canary: { v: LiveVersion; percent: number } | null;
  shadow: LiveVersion | null;
};

type Job = {
  feeds: Record<string, TensorData>;
  rows: number;
  resolve: (r: { outputs: Record<string, TensorData>; ms: number; batch: number }) => void;
  reject: (e: Error) => void;
};

/**
 * Gathers concurrent requests for one version into one run. A request is sent when the
 * batch is full (maxBatchSize rows), when an inference thread is idle (after gathering
 * what arrived in the same turn of the event loop), or when it has waited maxWaitMs.
 * Under light load requests therefore go at once, one by one; under heavy load they
 * queue while every thread is busy and leave as one batch when a thread frees up.
 */
export class Batcher {
  private queue: Job[] = [];
  private rows = 0;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private unsubscribe: () => void;
  constructor(
    private pool: InferencePool,
    private key: string,
    private maxRows: number,
    private maxWaitMs: number,
    private onBatch: (rows: number) => void,
  ) {
    this.unsubscribe = pool.onIdle(() => {
      if (this.queue.length) this.flushSoon();
    });
  }
  submit(feeds: Record<string, TensorData>, rows: number) {
    return new Promise<{ outputs: Record<string, TensorData>; ms: number; batch: number }>((resolve, reject) => {
      this.queue.push({ feeds, rows, resolve, reject });
      this.rows += rows;
      if (this.rows >= this.maxRows) this.flush();
      else if (this.pool.idle > 0) this.flushSoon();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }
  /** Stops listening to the pool (the version was swapped out); queued requests still run. */
  close() {
    this.unsubscribe();
    if (this.queue.length) this.flush();
  }
  private flushSoon() {
    this.soon ??= setImmediate(() => {
      this.soon = null;
      this.flush();
    });
  }
  private flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.soon) clearImmediate(this.soon);
    this.soon = null;
    if (!this.queue.length) return;
    // Take whole requests up to maxRows (a request larger than that goes alone).
    let take = 0;
    let rows = 0;
    while (take < this.queue.length && (take === 0 || rows + this.queue[take]!.rows <= this.maxRows)) rows += this.queue[take++]!.rows;
    const jobs = this.queue.splice(0, take);
    this.rows -= rows;
    void this.runBatch(jobs);
    if (this.queue.length) {
      if (this.rows >= this.maxRows || this.pool.idle > 0) this.flushSoon();
      else this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
    }
  }
  private async runBatch(jobs: Job[]) {
    const total = jobs.reduce((a, j) => a + j.rows, 0);
    this.onBatch(total);
    if (jobs.length === 1) {
      try {
        const r = await this.pool.run(this.key, jobs[0]!.feeds);
        jobs[0]!.resolve({ ...r, batch: total });
      } catch (err) {
        jobs[0]!.reject(err as Error);
      }
      return;
    }
    try {
      const feeds: Record<string, TensorData> = {};
      for (const name of Object.keys(jobs[0]!.feeds)) feeds[name] = concat(jobs.map((j) => j.feeds[name]!));
      const r = await this.pool.run(this.key, feeds);
      let offset = 0;
      for (const j of jobs) {
        const outputs: Record<string, TensorData> = {};
        for (const [k, t] of Object.entries(r.outputs)) outputs[k] = slice(t, offset, j.rows, total);
        offset += j.rows;
        j.resolve({ outputs, ms: r.ms, batch: total });
      }
    } catch (err) {
      // One bad request must not fail its neighbours: run them one by one.
      for (const j of jobs) {
        this.pool.run(this.key, j.feeds).then(
          (r) => j.resolve({ ...r, batch: j.rows }),
          (e: Error) => j.reject(e),
        );
      }
      void err;
    }
  }
}

function concat(parts: TensorData[]): TensorData {
  const rows = parts.reduce((a, p) => a + p.dims[0]!, 0);
  const first = parts[0]!;
  if (Array.isArray(first.data)) return { type: first.type, data: parts.flatMap((p) => p.data as string[]), dims: [rows, ...first.dims.slice(1)] };
  const C = first.data.constructor as new (n: number) => Float32Array;
  const out = new C(parts.reduce((a, p) => a + p.data.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, o);
    o += p.data.length;
  }
  return { type: first.type, data: out, dims: [rows, ...first.dims.slice(1)] };
}

function slice(t: TensorData, start: number, rows: number, total: number): TensorData {
  if (!t.dims.length || t.dims[0] !== total) return t;
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = (t.data as Float32Array).slice(start * per, (start + rows) * per);
  return { type: t.type, data, dims: [rows, ...t.dims.slice(1)] };
}

/** A model batches when every input and output has a symbolic first dimension. */
const batchable = (sig: OnnxSignature) => [...sig.inputs, ...sig.outputs].every((v) => v.shape && v.shape.length >= 1 && typeof v.shape[0] !== "number");

/** What a replica tells the rollouts service after each reload (see server/serving/rollouts.service.ts). */
export type ReloadReporter = {
  serving: (d: {
    id: string;
    workspaceId: string;
    revision: number;
    primaryVersionId: string;
    canaryVersionId: string | null;
    shadowVersionId: string | null;
  }) => Promise<void>;
  failed: (d: { id: string; workspaceId: string; revision: number }, reason: string, servingRevision: number | null) => Promise<void>;
};

/** Why a revision could not be loaded, in words for the deployment page. */
export class LoadError extends Error {}

/** sha256 of a file, streamed. */
async function fileSha256(path: string) {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export class LiveRegistry {
  private byId = new Map<string, LiveDeployment>();
  private loaded = new Map<string, { inUse: number; bytes: number }>();
  private reloading = new Map<string, Promise<void>>();
  /** The revision each deployment was last reported as served at (the periodic resync re-reports only what did not get through). */
  private reported = new Map<string, number>();
  constructor(
    private pool: InferencePool,
    private onBatch: (deployment: { id: string; name: string; workspaceId: string }, rows: number) => void,
    private reporter: ReloadReporter | null = null,
    /** Model bytes this replica may hold in sessions (INFERENCE_MEMORY_LIMIT_BYTES); null: no limit. */
    private memoryLimitBytes: number | null = null,
  ) {}

  find(workspaceId: string, name: string) {
    for (const d of this.byId.values()) if (d.workspaceId === workspaceId && d.name === name) return d;
    return null;
  }
  byIdGet(id: string) {
    return this.byId.get(id) ?? null;
  }
  all() {
    return [...this.byId.values()];
  }

  async loadAll() {
    const rows = await getDb().select({ id: deployments.id }).from(deployments);
    for (const r of rows) await this.reload(r.id);
  }

  /** Serialised per deployment: a burst of notifications reloads once more at most. */
  reload(id: string): Promise<void> {
    const prev = this.reloading.get(id) ?? Promise.resolve();
    const next = prev
      .then(() => this.doReload(id))
      .catch((err: unknown) =>
        console.error(`[inference] reload of ${id} failed:`, err instanceof LoadError || isDatabaseUnavailable(err) ? (err as Error).message : err),
      );
    this.reloading.set(id, next);
    return next;
  }

  private async version(id: string, settings: DeploymentSettings): Promise<LiveVersion> {
    const [v] = await getDb()
      .select({
        id: modelVersions.id,
        version: modelVersions.version,
        sha256: modelVersions.sha256,
        sizeBytes: modelVersions.sizeBytes,
        signature: modelVersions.signature,
        filename: modelVersions.filename,
      })
      .from(modelVersions)
      .where(eq(modelVersions.id, id));
    if (!v) throw new LoadError(`model version ${id} is gone`);
    const key = `${v.sha256}:${settings.intraOpThreads}`;
    if (!this.loaded.has(key)) {
      if (this.memoryLimitBytes !== null) {
        const held = [...this.loaded.values()].reduce((a, e) => a + e.bytes, 0);
        if (held + v.sizeBytes > this.memoryLimitBytes) {
          throw new LoadError(
            `v${v.version} needs ${formatBytes(v.sizeBytes)} of model memory; this replica holds ${formatBytes(held)} of its ${formatBytes(this.memoryLimitBytes)} limit (INFERENCE_MEMORY_LIMIT_BYTES)`,
          );
        }
      }
      let file: { path: string; release: () => Promise<void> };
      try {
        file = await materialize(v.sha256);
      } catch (err) {
        throw new LoadError(`v${v.version}'s artifact could not be read from the artifact store (${(err as Error).message})`);
      }
      try {
        // What serves is exactly what was registered: the bytes must still hash to the version's sha256.
        let actual: string;
        try {
          actual = await fileSha256(file.path);
        } catch (err) {
          throw new LoadError(`v${v.version}'s artifact is missing from the artifact store (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
        if (actual !== v.sha256)
          throw new LoadError(`v${v.version}'s artifact failed its sha256 check (expected ${v.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
        // A bundle (its normalised tar, just verified) is unpacked once into its content-addressed folder; onnxruntime loads the model from there.
        let model = file.path;
        if (isBundleFilename(v.filename)) {
          try {
            model = await materializeBundle(v.sha256, file.path);
          } catch (err) {
            throw new LoadError(`v${v.version}'s bundle could not be unpacked (${(err as Error).message})`);
          }
        }
        try {
          await this.pool.load(key, model, settings.intraOpThreads, model !== file.path);
        } catch (err) {
          throw new LoadError(`onnxruntime could not load v${v.version}: ${(err as Error).message}`);
        }
      } finally {
        await file.release();
      }
      this.loaded.set(key, { inUse: 0, bytes: v.sizeBytes });
    }
    const canBatch = batchable(v.signature) && settings.maxWaitMs > 0 && settings.maxBatchSize > 1;
    return { ...v, key, batchable: canBatch, batcher: null };
  }

  private async doReload(id: string) {
    const [row] = await getDb()
      .select({ d: deployments, model: models.name })
      .from(deployments)
      .innerJoin(models, eq(models.id, deployments.modelId))
      .where(eq(deployments.id, id));
    const old = this.byId.get(id);
    if (!row) {
      this.byId.delete(id);
      this.reported.delete(id);
      if (old) this.retire(old);
      return;
    }
    const d = row.d;
    const report = {
      id: d.id,
      workspaceId: d.workspaceId,
      revision: d.revision,
      primaryVersionId: d.primaryVersionId,
      canaryVersionId: d.canaryVersionId,
      shadowVersionId: d.shadowVersionId,
    };
    if (old && old.revision >= d.revision) {
      // Nothing new: report again only if the last report did not get through (the database was away).
      if (old.revision === d.revision && this.reported.get(id) !== d.revision) await this.report(report);
      return;
    }
    const s = d.settings;
    const withBatcher = (v: LiveVersion): LiveVersion => ({
      ...v,
      batcher: v.batchable ? new Batcher(this.pool, v.key, s.maxBatchSize, s.maxWaitMs, (rows) => this.onBatch(d, rows)) : null,
    });
    let live: LiveDeployment;
    try {
      // Warm every version before the swap; a version that cannot load leaves the old one serving.
      const primary = withBatcher(await this.version(d.primaryVersionId, s));
      const canary = d.canaryVersionId && d.canaryPercent > 0 ? { v: withBatcher(await this.version(d.canaryVersionId, s)), percent: d.canaryPercent } : null;
      const shadow = d.shadowVersionId ? withBatcher(await this.version(d.shadowVersionId, s)) : null;
      live = {
        id: d.id,
        workspaceId: d.workspaceId,
        name: d.name,
        model: row.model,
        status: d.status,
        revision: d.revision,
        settings: s,
        primary,
        canary,
        shadow,
      };
    } catch (err) {
      // The database went away mid-load: not the revision's fault. The old one keeps serving
      // and the next resync (or the listener's reconnection) loads it again.
      if (isDatabaseUnavailable(err)) throw err;
      const reason = err instanceof LoadError ? err.message : `loading failed: ${(err as Error).message}`;
      await this.reporter?.failed(report, reason, old?.revision ?? null).catch((e: unknown) => console.error("[inference] could not report a failed load:", e));
      throw err;
    }
    this.byId.set(id, live);
    if (old) this.retire(old);
    await this.report(report);
  }

  private async report(r: Parameters<ReloadReporter["serving"]>[0]) {
    if (!this.reporter) return;
    try {
      await this.reporter.serving(r);
      this.reported.set(r.id, r.revision);
    } catch (e) {
      console.error("[inference] could not report what it serves:", e);
    }
  }

  /** Marks a session as used by a request; call the returned function when done. */
  acquire(key: string) {
    const e = this.loaded.get(key);
    if (e) e.inUse++;
    return () => {
      if (e) e.inUse--;
    };
  }

  /** Releases sessions no live deployment uses, after their in-flight requests drain. */
  private retire(old: LiveDeployment) {
    for (const v of [old.primary, old.canary?.v, old.shadow]) v?.batcher?.close();
    const keys = [old.primary.key, old.canary?.v.key, old.shadow?.key].filter((k): k is string => !!k);
    const used = new Set(this.all().flatMap((d) => [d.primary.key, d.canary?.v.key, d.shadow?.key]));
    for (const key of keys) {
      if (used.has(key)) continue;
      const e = this.loaded.get(key);
      if (!e) continue;
      const tryUnload = () => {
        if (this.all().some((d) => [d.primary.key, d.canary?.v.key, d.shadow?.key].includes(key))) return;
        if (e.inUse > 0) return void setTimeout(tryUnload, 100);
        this.loaded.delete(key);
        void this.pool.unload(key).catch(() => undefined);
      };
      setTimeout(tryUnload, 100);
    }
  }

  get sessionCount() {
    return this.loaded.size;
  }
}
