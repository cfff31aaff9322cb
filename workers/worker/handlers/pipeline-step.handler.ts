import fs from "node:fs/promises";
import path from "node:path";
import type PgBoss from "pg-boss";
import type { z } from "zod";
import { storeFile } from "~/server/artifacts/store";
import type { pipelineStep } from "~/server/jobs/definitions";
import { evaluateChecks, worst } from "~/server/pipelines/checks";
import { ConfigError, resolveStep, type ResolvedStep } from "~/server/pipelines/context";
import { appendLogs, claimStep, finishStep, LEASE_SECONDS, renewLease, type StepResult } from "~/server/pipelines/step-lifecycle";
import { uploadModelVersion } from "~/server/registry/models.service";
import { openReview } from "~/server/reviews/requests.service";
import { can } from "~/server/shared/permissions";
import { and, eq } from "drizzle-orm";
import { getDb } from "~/db/client";
import { alertIncidents, memberships, pipelineVersions, users } from "~/db/schema";
import { SANDBOX_INPUTS, SandboxRefusal } from "~/workers/worker/steps/sandbox";
import { listFiles, runCommand, runModelStep, type Emit } from "~/workers/worker/steps/spawn";

type Payload = z.infer<typeof pipelineStep.schema>;
const DEFAULT_TIMEOUT_S = 30 * 60;

/** Buffers log lines and writes them every 250 ms (one insert and one realtime hint per flush). */
function logBuffer(step: { id: string; runId: string; workspaceId: string }, attempt: number) {
  let lines: { stream: "stdout" | "stderr" | "system"; line: string }[] = [];
  let chain = Promise.resolve();
  const flush = () => {
    const batch = lines;
    lines = [];
    chain = chain.then(() => appendLogs(step, attempt, batch)).catch((err: unknown) => console.error("[worker] could not write step logs:", err));
    return chain;
  };
  const timer = setInterval(() => void flush(), 250);
  const emit: Emit = (stream, line) => {
    lines.push({ stream, line });
    if (lines.length >= 500) void flush();
  };
  return { emit, close: async () => (clearInterval(timer), flush()) };
}

function judged(r: ResolvedStep, metrics: Record<string, number | null>, defaults: Parameters<typeof evaluateChecks>[1], notes?: Record<string, string>) {
  const checks = evaluateChecks(metrics, defaults, r.spec.checks, notes);
  const w = worst(checks.map((c) => c.status));
  return { checks, status: (w === "fail" ? "failed" : w === "warn" ? "warned" : "passed") as StepResult["status"] };
}

async function commandStep(r: ResolvedStep, stepRunId: string, attempt: number, emit: Emit, stop: AbortSignal): Promise<StepResult> {
  const required = r.spec.required !== false;
  const env: Record<string, string> = {
    ...r.spec.env,
    STEWARD_RUN_ID: r.run.id,
    STEWARD_RUN_NUMBER: String(r.run.number),
    // 1, then 2… when a step is retried after its worker died: a step can tell a retry from a first run.
    STEWARD_STEP_ATTEMPT: String(attempt),
    // Inside the sandbox: the model is a read-only copy in its inputs folder.
    ...(r.model ? { STEWARD_MODEL: r.model.name, STEWARD_MODEL_VERSION: String(r.model.version), STEWARD_MODEL_FILE: `${SANDBOX_INPUTS}/model.onnx` } : {}),
    ...(r.dataset ? { STEWARD_DATASET: r.dataset.ref, STEWARD_DATASET_FILE: `${SANDBOX_INPUTS}/dataset.${r.dataset.format}` } : {}),
  };
  emit("system", `$ ${r.spec.run}`);
  const out = await runCommand(
    {
      workspaceId: r.run.workspaceId,
      run: r.spec.run!,
      env,
      workdir: r.spec.workdir,
      network: r.spec.network,
      inputs: [
        ...(r.model ? [{ name: "model.onnx", file: r.model.file }] : []),
        ...(r.dataset ? [{ name: `dataset.${r.dataset.format}`, file: r.dataset.file }] : []),
      ],
      timeoutMs: (r.spec.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
    },
    emit,
    stop,
  );
  try {
    if (stop.aborted) return { status: "cancelled", reason: out.reason, required };
    const files = await listFiles(out.outputDir);
    const artifacts: NonNullable<StepResult["artifacts"]> = [];
    let metrics: Record<string, number | null> = {};
    if (files.includes("metrics.json")) {
      try {
        const parsed = JSON.parse(await fs.readFile(path.join(out.outputDir, "metrics.json"), "utf8")) as unknown;
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
          metrics = Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "number" && Number.isFinite(v)));
        }
      } catch {
        emit("system", "metrics.json is not valid JSON; its figures were ignored.");
      }
    }
    const registered: { name: string; version: number }[] = [];
    for (const f of files) {
      const stored = await storeFile(path.join(out.outputDir, f), out.outputLimitBytes);
      let modelVersionId: string | null = null;
      if (out.exitCode === 0 && f.toLowerCase().endsWith(".onnx")) {
        const name = r.options.register_as ?? r.model?.name ?? path.basename(f, ".onnx").replace(/[^A-Za-z0-9._-]/g, "-");
        try {
          const v = await uploadModelVersion(
            { type: "system", job: `pipeline run #${r.run.number}`, workspaceId: r.run.workspaceId },
            {
              name,
              filename: path.basename(f),
              sourceRunId: r.run.id,
              meta: {
                description: `Produced by run #${r.run.number} (step ${stepRunId.slice(0, 8)}).`,
                metrics: Object.fromEntries(Object.entries(metrics).filter((e): e is [string, number] => e[1] !== null)),
                ...(r.model && r.model.name === name ? { parent: r.model.version } : {}),
              },
            },
            (await import("node:fs")).createReadStream(path.join(out.outputDir, f)),
          );
          modelVersionId = v.versionId;
          registered.push({ name, version: v.version });
          emit("system", `Registered ${f} as ${name}@${v.version}${v.created ? "" : " (these bytes were registered already)"}.`);
        } catch (err) {
          emit("system", `Could not register ${f} as a model version: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      artifacts.push({ path: f, sha256: stored.sha256, sizeBytes: stored.size, modelVersionId });
    }
    if (files.length) emit("system", `Kept ${files.length} output file(s) as artifacts.`);
    const exit = { exit_code: out.exitCode ?? -1 };
    const { checks, status } = judged(r, { ...metrics, ...exit }, { exit_code: { fail_above: 0, fail_below: 0 } });
    let reason = out.reason;
    let review: number | null = null;
    if (r.options.open_review && out.exitCode === 0 && !out.reason && status !== "failed") {
      if (!registered.length)
        reason = `open_review: the command registered no model version (write an .onnx file to $STEWARD_OUTPUT_DIR), so there is nothing to review.`;
      else {
        try {
          review = await openReviewFor(r, registered.at(-1)!, r.options.open_review);
          emit("system", `Opened review #${review}: ${registered.at(-1)!.name}@${registered.at(-1)!.version} → ${r.options.open_review.alias}.`);
        } catch (err) {
          reason = `Registered ${registered.at(-1)!.name}@${registered.at(-1)!.version} but could not open its review: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
    }
    return {
      status: reason ? "failed" : status,
      reason,
      outputs: { exitCode: out.exitCode, files, metrics, ...(review ? { review } : {}) },
      checks,
      required,
      artifacts,
    };
  } finally {
    await out.cleanup();
  }
}

/**
 * The retraining loop's last link: a review request for the version the command
 * registered, in the name of the person who wrote this pipeline version (an admin or
 * owner, since it has a command step), who therefore cannot approve it. The summary says
 * which run — and, for a run an alert started, which alert — produced it.
 */
async function openReviewFor(r: ResolvedStep, v: { name: string; version: number }, opts: { alias: string; summary?: string }) {
  const [author] = await getDb()
    .select({ id: users.id, email: users.email, role: memberships.role, deactivatedAt: users.deactivatedAt })
    .from(pipelineVersions)
    .innerJoin(users, eq(users.id, pipelineVersions.createdBy))
    .innerJoin(memberships, and(eq(memberships.userId, users.id), eq(memberships.workspaceId, r.run.workspaceId)))
    .where(eq(pipelineVersions.id, r.run.pipelineVersionId));
  if (!author || author.deactivatedAt) throw new Error("the pipeline's author is no longer an active member of the workspace to request it.");
  if (!can(author.role, "review:participate")) throw new Error(`the pipeline's author (${author.email}, ${author.role}) may not open reviews.`);
  let why = `Produced by pipeline run #${r.run.number} (${r.run.trigger}).`;
  if (r.run.trigger === "alert" && r.run.triggerRef) {
    const [incident] = await getDb().select({ message: alertIncidents.message }).from(alertIncidents).where(eq(alertIncidents.id, r.run.triggerRef));
    if (incident) why = `Retrained by pipeline run #${r.run.number}, started by the alert: ${incident.message}.`;
  }
  const opened = await openReview(
    { type: "user", userId: author.id, email: author.email, workspaceId: r.run.workspaceId, role: author.role },
    { model: v.name, version: v.version, alias: opts.alias, summary: opts.summary ? `${opts.summary}\n\n${why}` : why },
  );
  return opened.number;
}

async function modelStep(r: ResolvedStep, emit: Emit, stop: AbortSignal): Promise<StepResult> {
  const required = r.spec.required !== false;
  const type = r.spec.type as Exclude<typeof r.spec.type, "command">;
  const outcome = await runModelStep(
    {
      type,
      options: r.options,
      model: { file: r.model!.file, signature: r.model!.signature, ref: r.model!.ref },
      dataset: r.dataset,
      train: r.train,
      champion: r.champion ? { file: r.champion.file, signature: r.champion.signature, ref: r.champion.ref } : r.champion,
      label: r.label,
      sensitive: r.sensitive,
      slices: r.slices,
    },
    emit,
    (r.spec.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
    stop,
  );
  if (stop.aborted) return { status: "cancelled", reason: String(stop.reason), required };
  if (!outcome.ok) return { status: "failed", reason: outcome.reason, required };
  const o = outcome.output;
  if (o.skipped) return { status: "skipped", reason: o.skipped, outputs: o.outputs, required };
  const { checks, status } = judged(r, o.metrics, o.defaults, o.notes);
  return { status, outputs: { ...o.outputs, metrics: o.metrics }, checks, required };
}

export function createPipelineStepHandler(workerId: string, leaseSeconds = LEASE_SECONDS) {
  return async (jobs: PgBoss.Job<Payload>[]) => {
    for (const job of jobs) await runStepJob(job.data, workerId, leaseSeconds);
  };
}

export async function runStepJob(data: Payload, workerId: string, leaseSeconds = LEASE_SECONDS) {
  const step = await claimStep(data.stepRunId, data.attempt, workerId, leaseSeconds);
  if (!step) return; // stale: retried elsewhere, cancelled or done
  const log = logBuffer(step, data.attempt);
  const stop = new AbortController();
  let lost = false;
  const renew = setInterval(
    () => {
      void renewLease(step.id, data.attempt, workerId, leaseSeconds)
        .then((r) => {
          if (r === "cancel" && !stop.signal.aborted) stop.abort("Cancelled while running.");
          if (r === "lost" && !stop.signal.aborted) {
            lost = true;
            stop.abort("The lease on this step was lost; another attempt has it.");
          }
        })
        .catch((err: unknown) => console.error("[worker] lease renewal failed:", err));
    },
    (leaseSeconds * 1000) / 3,
  );
  log.emit("system", `Attempt ${data.attempt} of ${step.maxAttempts} on ${workerId}.`);
  let result: StepResult;
  let resolved: ResolvedStep | null = null;
  try {
    resolved = await resolveStep(step);
    result =
      resolved.spec.type === "command"
        ? await commandStep(resolved, step.id, data.attempt, log.emit, stop.signal)
        : await modelStep(resolved, log.emit, stop.signal);
  } catch (err) {
    const expected = err instanceof ConfigError || err instanceof SandboxRefusal;
    const reason = expected ? err.message : `The step could not run: ${err instanceof Error ? err.message : String(err)}`;
    if (!expected) console.error(`[worker] step ${step.key} of run ${step.runId}:`, err);
    result = { status: "failed", reason, required: resolved?.spec.required !== false };
  } finally {
    clearInterval(renew);
    await resolved?.release();
  }
  if (result.reason) log.emit("system", result.reason);
  log.emit("system", `Finished: ${result.status}.`);
  await log.close();
  if (lost) return;
  await finishStep(step.id, data.attempt, workerId, result);
}
