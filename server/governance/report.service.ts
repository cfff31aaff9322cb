import "server-only";
import { inventoryOf } from "./inventory.service";
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { and, asc, desc, eq, gte, inArray, lte, or, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { getBulkDb } from "~/db/client";
import {
  alertIncidents,
  alertRules,
  auditCheckpoints,
  auditEvents,
  checks,
  datasets,
  datasetVersions,
  deploymentEvents,
  deployments,
  driftResults,
  modelCardRevisions,
  modelVersionDatasets,
  modelVersions,
  performanceWindows,
  pipelineRuns,
  pipelines,
  predictionRollups,
  reviewRequests,
  reviewSignatures,
  rollouts,
  stepRuns,
  users,
  workspaces,
} from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { getModelVersion } from "~/server/registry/models.service";
import { CARD_TEMPLATE } from "~/server/reviews/requests.service";
import { bucketQuantile, emptyBuckets } from "~/server/shared/latency";
import { EVIDENCE, frameworksFor, LEGAL_STATUS_LABEL, type EvidenceKey } from "~/server/shared/frameworks";
import { utc, utcDay } from "~/server/shared/report-format";

export { EVIDENCE, FRAMEWORKS } from "~/server/shared/frameworks";

/*
 * Everything an auditor needs about one model version, read from what Steward recorded:
 * its data, card, validation run, reviews and e-signatures, deployments and rollouts,
 * monitoring while it served, and its audit events; a manifest of hashes ties the report
 * to the artifact and the audit chain. Framework items are complete, partial or missing
 * from the evidence map below and nothing else: no sentence here states a fact that a
 * record does not back.
 */

const HOUR = 3_600_000;
const FINISHED_RUN = ["passed", "warned", "failed"] as const;
/** Step types whose successful run is evidence of its own kind (fairness, robustness, explainability). */
type AnalysisStep = "fairness" | "robustness" | "explain";

type Severity = "none" | "moderate" | "major" | "unknown";

export async function buildReport(actor: WorkspaceActor, name: string, version: number, now = new Date()) {
  const v = await getModelVersion(actor, name, version);
  // The bulk pool: reports gather a version's whole life; many at once cannot take the connections sign-ins need.
  const db = getBulkDb();
  // The version's whole life up to now: from its registration, or from its first recorded
  // prediction when traffic was imported or simulated from before it (the demo's history).
  const [first] = await db
    .select({ at: sql<Date | null>`min(${predictionRollups.minute})` })
    .from(predictionRollups)
    .where(and(eq(predictionRollups.workspaceId, actor.workspaceId), eq(predictionRollups.modelVersionId, v.id)));
  const firstServed = first?.at ? new Date(first.at) : null;
  const period = { from: firstServed && firstServed < v.createdAt ? firstServed : v.createdAt, to: now };
  const [ws] = await db
    .select({ frameworks: workspaces.frameworks, retentionDays: workspaces.predictionRetentionDays })
    .from(workspaces)
    .where(eq(workspaces.id, actor.workspaceId));

  // --- Data -------------------------------------------------------------------------------
  const data = await db
    .select({
      role: modelVersionDatasets.role,
      name: datasets.name,
      version: datasetVersions.version,
      sha256: datasetVersions.sha256,
      rows: datasetVersions.rowCount,
      schema: datasetVersions.schema,
      profile: datasetVersions.profile,
    })
    .from(modelVersionDatasets)
    .innerJoin(datasetVersions, eq(datasetVersions.id, modelVersionDatasets.datasetVersionId))
    .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
    .where(eq(modelVersionDatasets.modelVersionId, v.id))
    .orderBy(asc(modelVersionDatasets.role), asc(datasets.name));

  // --- Audit trail ------------------------------------------------------------------------
  const events = await db
    .select({
      seq: auditEvents.seq,
      hash: auditEvents.hash,
      occurredAt: auditEvents.occurredAt,
      action: auditEvents.action,
      actorLabel: auditEvents.actorLabel,
    })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.workspaceId, actor.workspaceId),
        or(
          eq(auditEvents.targetId, v.id),
          and(
            eq(auditEvents.targetId, v.modelId),
            eq(auditEvents.action, "model.alias_moved"),
            sql`(${auditEvents.changes} -> (${auditEvents.metadata} ->> 'alias')) ->> 1 = ${String(version)}`,
          ),
        ),
      ),
    )
    .orderBy(asc(auditEvents.seq));
  const maxSeq = events.at(-1)?.seq ?? 0;
  const [checkpoint] = await db
    .select()
    .from(auditCheckpoints)
    .where(and(eq(auditCheckpoints.workspaceId, actor.workspaceId), sql`${auditCheckpoints.seq} >= ${maxSeq}`))
    .orderBy(asc(auditCheckpoints.seq))
    .limit(1);
  const [head] = await db
    .select({ seq: auditEvents.seq, hash: auditEvents.hash })
    .from(auditEvents)
    .where(eq(auditEvents.workspaceId, actor.workspaceId))
    .orderBy(desc(auditEvents.seq))
    .limit(1);

  // --- Model card -------------------------------------------------------------------------
  const [cardRow] = await db
    .select({
      revision: modelCardRevisions.revision,
      markdown: modelCardRevisions.markdown,
      sha256: modelCardRevisions.sha256,
      at: modelCardRevisions.createdAt,
      editedBy: users.name,
    })
    .from(modelCardRevisions)
    .leftJoin(users, eq(users.id, modelCardRevisions.editedBy))
    .where(eq(modelCardRevisions.modelVersionId, v.id))
    .orderBy(desc(modelCardRevisions.revision))
    .limit(1);
  // The blank template a review starts with is not a card: only text someone wrote is.
  const card = cardRow ? { ...cardRow, written: cardRow.markdown.trim() !== CARD_TEMPLATE.trim() && cardRow.markdown.trim().length > 0 } : null;

  // --- Validation: the latest finished run (the validate pipeline's first), each check once --
  const [run] = await db
    .select({ id: pipelineRuns.id, number: pipelineRuns.number, status: pipelineRuns.status, pipeline: pipelines.name, finishedAt: pipelineRuns.finishedAt })
    .from(pipelineRuns)
    .innerJoin(pipelines, eq(pipelines.id, pipelineRuns.pipelineId))
    .where(and(eq(pipelineRuns.modelVersionId, v.id), inArray(pipelineRuns.status, [...FINISHED_RUN])))
    .orderBy(sql`(${pipelines.name} = 'validate') desc`, desc(pipelineRuns.number))
    .limit(1);
  const [runCount] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(pipelineRuns)
    .where(eq(pipelineRuns.modelVersionId, v.id));
  const steps = run
    ? await db
        .select({ key: stepRuns.key, type: stepRuns.type, status: stepRuns.status, reason: stepRuns.reason, outputs: stepRuns.outputs })
        .from(stepRuns)
        .where(eq(stepRuns.runId, run.id))
        .orderBy(asc(stepRuns.startedAt), asc(stepRuns.key))
    : [];
  const versionChecks = run
    ? await db
        .select({
          name: checks.name,
          step: stepRuns.key,
          stepType: stepRuns.type,
          status: checks.status,
          value: checks.value,
          threshold: checks.threshold,
          required: checks.required,
          message: checks.message,
        })
        .from(checks)
        .innerJoin(stepRuns, eq(stepRuns.id, checks.stepRunId))
        .where(eq(checks.runId, run.id))
        .orderBy(asc(checks.name))
    : [];
  const explain = steps.find((s) => s.type === "explain" && (s.status === "passed" || s.status === "warned"));
  const importance = (
    (explain?.outputs as { importance?: { feature: string; importance: number; std: number }[]; metric?: string } | null)?.importance ?? []
  ).slice(0, 10);
  const analysis = (type: AnalysisStep) => {
    const s = steps.filter((x) => x.type === type);
    const ran = s.filter((x) => x.status === "passed" || x.status === "warned" || x.status === "failed");
    const withFigures = ran.filter((x) => versionChecks.some((c) => c.step === x.key) || (type === "explain" && importance.length > 0));
    return { steps: s.map((x) => ({ key: x.key, status: x.status, reason: x.reason })), present: withFigures.length > 0 };
  };

  // --- Reviews and e-signatures -----------------------------------------------------------
  const requests = await db
    .select({
      id: reviewRequests.id,
      number: reviewRequests.number,
      alias: reviewRequests.alias,
      status: reviewRequests.status,
      round: reviewRequests.round,
      supersededAt: reviewRequests.supersededAt,
      supersededBy: reviewRequests.supersededByVersionId,
      createdAt: reviewRequests.createdAt,
      closedAt: reviewRequests.closedAt,
    })
    .from(reviewRequests)
    .where(and(eq(reviewRequests.workspaceId, actor.workspaceId), eq(reviewRequests.modelVersionId, v.id)))
    .orderBy(asc(reviewRequests.number));
  const sigRows = requests.length
    ? await db
        .select({
          requestId: reviewSignatures.requestId,
          signerName: reviewSignatures.signerName,
          signerEmail: reviewSignatures.signerEmail,
          signerId: reviewSignatures.signerId,
          role: reviewSignatures.role,
          decision: reviewSignatures.decision,
          meaning: reviewSignatures.meaning,
          reason: reviewSignatures.reason,
          method: reviewSignatures.method,
          signedAt: reviewSignatures.signedAt,
          artifactSha256: reviewSignatures.artifactSha256,
          evidenceHash: reviewSignatures.evidenceHash,
          recordHash: reviewSignatures.recordHash,
          aliasHolderVersionId: reviewSignatures.aliasHolderVersionId,
          round: reviewSignatures.round,
        })
        .from(reviewSignatures)
        .where(
          inArray(
            reviewSignatures.requestId,
            requests.map((r) => r.id),
          ),
        )
        .orderBy(asc(reviewSignatures.signedAt))
    : [];

  // --- Deployments and rollouts -----------------------------------------------------------
  const involves = (c: { primary: AnyPgColumn; canary: AnyPgColumn; shadow: AnyPgColumn }) => or(eq(c.primary, v.id), eq(c.canary, v.id), eq(c.shadow, v.id));
  const rolloutRows = await db
    .select({ r: rollouts, deployment: deployments.name, environment: deployments.environment })
    .from(rollouts)
    .innerJoin(deployments, eq(deployments.id, rollouts.deploymentId))
    .where(
      and(
        eq(rollouts.workspaceId, actor.workspaceId),
        or(
          involves({ primary: rollouts.primaryVersionId, canary: rollouts.canaryVersionId, shadow: rollouts.shadowVersionId }),
          involves({ primary: rollouts.fromPrimaryVersionId, canary: rollouts.fromCanaryVersionId, shadow: rollouts.fromShadowVersionId }),
        ),
      ),
    )
    .orderBy(asc(rollouts.createdAt), asc(rollouts.revision));
  const current = await db
    .select()
    .from(deployments)
    .where(
      and(
        eq(deployments.workspaceId, actor.workspaceId),
        involves({ primary: deployments.primaryVersionId, canary: deployments.canaryVersionId, shadow: deployments.shadowVersionId }),
      ),
    );
  const deploymentIds = [...new Set([...rolloutRows.map((x) => x.r.deploymentId), ...current.map((d) => d.id)])];
  const deploymentRows = deploymentIds.length
    ? await db.select().from(deployments).where(inArray(deployments.id, deploymentIds)).orderBy(asc(deployments.name))
    : [];
  const versionIds = [
    ...new Set(
      [
        ...rolloutRows.flatMap((x) => [
          x.r.primaryVersionId,
          x.r.canaryVersionId,
          x.r.shadowVersionId,
          x.r.fromPrimaryVersionId,
          x.r.fromCanaryVersionId,
          x.r.fromShadowVersionId,
        ]),
        ...deploymentRows.flatMap((d) => [d.primaryVersionId, d.canaryVersionId, d.shadowVersionId]),
        ...sigRows.map((s) => s.aliasHolderVersionId),
        ...requests.map((r) => r.supersededBy),
      ].filter((x): x is string => Boolean(x)),
    ),
  ];
  const numbers = new Map(
    (versionIds.length
      ? await db.select({ id: modelVersions.id, version: modelVersions.version }).from(modelVersions).where(inArray(modelVersions.id, versionIds))
      : []
    ).map((x) => [x.id, x.version]),
  );
  const vn = (id: string | null) => (id ? (numbers.get(id) ?? null) : null);
  const deploymentEventRows = deploymentIds.length
    ? await db
        .select({
          deploymentId: deploymentEvents.deploymentId,
          kind: deploymentEvents.kind,
          summary: deploymentEvents.summary,
          actorLabel: deploymentEvents.actorLabel,
          at: deploymentEvents.at,
        })
        .from(deploymentEvents)
        .where(and(inArray(deploymentEvents.deploymentId, deploymentIds), gte(deploymentEvents.at, period.from), lte(deploymentEvents.at, period.to)))
        .orderBy(asc(deploymentEvents.at))
        .limit(500)
    : [];
  const dName = new Map(deploymentRows.map((d) => [d.id, d.name]));

  // --- Monitoring while it served ---------------------------------------------------------
  const traffic = await db
    .select({
      deploymentId: predictionRollups.deploymentId,
      role: predictionRollups.role,
      requests: sql<number>`sum(${predictionRollups.requests})::int`,
      errors: sql<number>`sum(${predictionRollups.errors})::int`,
      latencySumMs: sql<number>`sum(${predictionRollups.latencySumMs})::float8`,
      firstMinute: sql<Date>`min(${predictionRollups.minute})`,
      lastMinute: sql<Date>`max(${predictionRollups.minute})`,
    })
    .from(predictionRollups)
    .where(
      and(
        eq(predictionRollups.workspaceId, actor.workspaceId),
        eq(predictionRollups.modelVersionId, v.id),
        gte(predictionRollups.minute, period.from),
        lte(predictionRollups.minute, period.to),
      ),
    )
    .groupBy(predictionRollups.deploymentId, predictionRollups.role);
  const bucketRows = traffic.length
    ? await db
        .select({ deploymentId: predictionRollups.deploymentId, role: predictionRollups.role, b: predictionRollups.latencyBuckets })
        .from(predictionRollups)
        .where(
          and(
            eq(predictionRollups.workspaceId, actor.workspaceId),
            eq(predictionRollups.modelVersionId, v.id),
            gte(predictionRollups.minute, period.from),
            lte(predictionRollups.minute, period.to),
          ),
        )
    : [];
  const bucketsOf = (deploymentId: string, role: string) => {
    const acc = emptyBuckets();
    for (const row of bucketRows) if (row.deploymentId === deploymentId && row.role === role) row.b.forEach((n, i) => (acc[i] = (acc[i] ?? 0) + n));
    return acc;
  };
  const trafficOut = traffic.map((t) => {
    const b = bucketsOf(t.deploymentId, t.role);
    return {
      deployment: dName.get(t.deploymentId) ?? t.deploymentId,
      role: t.role,
      requests: t.requests,
      errors: t.errors,
      errorRate: t.requests ? t.errors / t.requests : null,
      meanLatencyMs: t.requests ? t.latencySumMs / t.requests : null,
      p99LatencyMs: bucketQuantile(b, 0.99),
      from: new Date(t.firstMinute),
      to: new Date(new Date(t.lastMinute).getTime() + 60_000),
    };
  });
  const drift = await db
    .select({
      deploymentId: driftResults.deploymentId,
      windowStart: driftResults.windowStart,
      windowEnd: driftResults.windowEnd,
      maxSeverity: driftResults.maxSeverity,
      features: driftResults.features,
      sampled: driftResults.sampled,
    })
    .from(driftResults)
    .where(
      and(
        eq(driftResults.workspaceId, actor.workspaceId),
        eq(driftResults.modelVersionId, v.id),
        gte(driftResults.windowEnd, period.from),
        lte(driftResults.windowEnd, period.to),
      ),
    )
    .orderBy(asc(driftResults.windowEnd));
  const bySeverity: Record<Severity, number> = { none: 0, moderate: 0, major: 0, unknown: 0 };
  for (const d of drift) bySeverity[d.maxSeverity]++;
  const latestDrift = drift.at(-1);
  const driftedFeatures = latestDrift
    ? (latestDrift.features as { feature: string; status: string; severity?: Severity; psi?: number }[])
        .filter((f) => f.status === "ok" && f.severity && f.severity !== "none")
        .map((f) => ({ feature: f.feature, severity: f.severity!, psi: f.psi ?? null }))
    : [];
  // Performance windows are per deployment and hour: they count for this version in the hours it answered as primary.
  const perf = await db
    .select({
      deploymentId: performanceWindows.deploymentId,
      windowStart: performanceWindows.windowStart,
      predictions: performanceWindows.predictions,
      labeled: performanceWindows.labeled,
      metrics: performanceWindows.metrics,
    })
    .from(performanceWindows)
    .where(
      and(
        eq(performanceWindows.workspaceId, actor.workspaceId),
        gte(performanceWindows.windowStart, new Date(period.from.getTime() - HOUR)),
        lte(performanceWindows.windowStart, period.to),
        sql`exists (select 1 from ${predictionRollups} r where r.deployment_id = ${performanceWindows.deploymentId} and r.model_version_id = ${v.id} and r.role = 'primary' and r.minute >= ${performanceWindows.windowStart} and r.minute < ${performanceWindows.windowStart} + interval '1 hour')`,
      ),
    )
    .orderBy(asc(performanceWindows.windowStart));
  const labeledWindows = perf.filter((p) => p.labeled > 0);
  const mean = (k: string) => {
    const xs = labeledWindows.map((p) => p.metrics[k]).filter((x): x is number => typeof x === "number");
    const w = labeledWindows.filter((p) => typeof p.metrics[k] === "number").map((p) => p.labeled);
    const total = w.reduce((a, b) => a + b, 0);
    return xs.length && total ? xs.reduce((a, x, i) => a + x * w[i]!, 0) / total : null;
  };
  const performance = {
    windows: perf.length,
    predictions: perf.reduce((a, p) => a + p.predictions, 0),
    labeled: perf.reduce((a, p) => a + p.labeled, 0),
    metrics: Object.fromEntries(["accuracy", "f1", "auc", "mae", "rmse"].map((k) => [k, mean(k)]).filter(([, x]) => x !== null)) as Record<string, number>,
    worst: labeledWindows.length
      ? labeledWindows.reduce((w, p) =>
          ((p.metrics.accuracy as number | undefined) ?? Infinity) < ((w.metrics.accuracy as number | undefined) ?? Infinity) ? p : w,
        )
      : null,
  };
  // Incidents on the deployments it served, opened while it served there.
  const served = trafficOut.filter((t) => t.role !== "shadow");
  const incidents = served.length
    ? await db
        .select({
          deploymentId: alertIncidents.deploymentId,
          rule: alertRules.name,
          metric: alertRules.metric,
          severity: alertRules.severity,
          status: alertIncidents.status,
          message: alertIncidents.message,
          value: alertIncidents.value,
          openedAt: alertIncidents.openedAt,
          acknowledgedAt: alertIncidents.acknowledgedAt,
          resolvedAt: alertIncidents.resolvedAt,
        })
        .from(alertIncidents)
        .innerJoin(alertRules, eq(alertRules.id, alertIncidents.ruleId))
        .where(
          and(
            eq(alertIncidents.workspaceId, actor.workspaceId),
            or(
              ...served.map((t) =>
                and(
                  eq(alertIncidents.deploymentId, deploymentRows.find((d) => d.name === t.deployment)?.id ?? t.deployment),
                  gte(alertIncidents.openedAt, t.from),
                  lte(alertIncidents.openedAt, new Date(t.to.getTime() + HOUR)),
                ),
              ),
            ),
          ),
        )
        .orderBy(asc(alertIncidents.openedAt))
    : [];

  // --- Evidence: each key from its own records --------------------------------------------
  const train = data.filter((d) => d.role === "train");
  const evalData = data.filter((d) => d.role === "eval");
  const enabled = ws?.frameworks ?? [];
  const mapped = frameworksFor(enabled);
  const floors = mapped.filter((f) => f.retention).map((f) => ({ framework: f.shortName, days: f.retention!.minDays }));
  const retentionDays = ws?.retentionDays ?? 0;
  const fairness = analysis("fairness");
  const robustness = analysis("robustness");
  const explainability = analysis("explain");
  const approvals = sigRows.filter((s) => s.decision === "approve");
  const evidence: Record<EvidenceKey, { present: boolean; detail: string }> = {
    model_description: {
      present: Boolean(v.description?.trim()),
      detail: v.description?.trim() ? "Recorded at registration." : "No description was recorded.",
    },
    intended_use: {
      present: Boolean(card?.written),
      detail: card?.written ? `Model card revision ${card.revision}.` : card ? "Only the blank card template exists." : "No model card exists.",
    },
    version_control: { present: Boolean(v.gitCommit), detail: v.gitCommit ? `Commit ${v.gitCommit}.` : "No commit recorded." },
    parent_version: { present: Boolean(v.parentVersionId), detail: v.parentVersionId ? "Parent version recorded." : "No parent version." },
    params: { present: Object.keys(v.params).length > 0, detail: `${Object.keys(v.params).length} parameters.` },
    model_signature: {
      present: v.signature.runtime.loadable,
      detail: v.signature.runtime.loadable ? "Loads in onnxruntime." : "onnxruntime could not load it.",
    },
    training_data: { present: train.length > 0, detail: `${train.length} training dataset versions.` },
    evaluation_data: { present: evalData.length > 0, detail: `${evalData.length} evaluation dataset versions.` },
    data_profiles: { present: data.length > 0 && data.every((d) => d.profile.columns.length > 0), detail: `${data.length} profiled dataset versions.` },
    metrics: { present: Object.keys(v.metrics).length > 0, detail: `${Object.keys(v.metrics).length} metrics.` },
    validation_checks: {
      present: versionChecks.length > 0,
      detail: run ? `${versionChecks.length} checks in run #${run.number} (${run.pipeline}).` : "No finished validation run.",
    },
    fairness: {
      present: fairness.present,
      detail: fairness.steps.length
        ? fairness.steps.map((s) => `${s.key}: ${s.status}${s.reason ? ` (${s.reason})` : ""}`).join("; ")
        : "No fairness step ran.",
    },
    robustness: {
      present: robustness.present,
      detail: robustness.steps.length ? robustness.steps.map((s) => `${s.key}: ${s.status}`).join("; ") : "No robustness step ran.",
    },
    explainability: {
      present: explainability.present,
      detail: explainability.steps.length ? explainability.steps.map((s) => `${s.key}: ${s.status}`).join("; ") : "No explain step ran.",
    },
    review_signatures: { present: sigRows.length > 0, detail: `${sigRows.length} e-signatures (${approvals.length} approvals) in ${requests.length} reviews.` },
    deployment_history: {
      present: rolloutRows.length > 0 || current.length > 0,
      detail: `${rolloutRows.length} rollouts; serving now in ${current.length} deployments.`,
    },
    monitoring: {
      present: drift.length > 0 || perf.length > 0 || incidents.length > 0,
      detail: `${drift.length} drift windows, ${perf.length} performance windows, ${incidents.length} incidents.`,
    },
    log_retention: floors.length
      ? {
          present: floors.every((f) => retentionDays >= f.days),
          detail: `Prediction logs kept ${retentionDays} days; required: ${floors.map((f) => `${f.days} days (${f.framework})`).join(", ")}.`,
        }
      : { present: false, detail: `Prediction logs kept ${retentionDays} days; no framework this report maps to sets a minimum.` },
    integrity_hashes: {
      present: /^[0-9a-f]{64}$/.test(v.sha256) && data.every((d) => /^[0-9a-f]{64}$/.test(d.sha256)),
      detail: "sha256 of the artifact and its datasets.",
    },
    untrusted_file_inspection: {
      present: Boolean(v.signature.irVersion !== undefined && v.signature.runtime),
      detail: "Signature and runtime load recorded by the sandboxed inspection.",
    },
    audit_events: { present: events.length > 0, detail: `${events.length} audit events.` },
    signed_checkpoint: {
      present: Boolean(checkpoint),
      detail: checkpoint ? `Checkpoint #${checkpoint.seq}.` : "No signed checkpoint covers the latest event yet.",
    },
    lineage: { present: data.length > 0 || Boolean(v.parentVersionId), detail: `${data.length} dataset edges${v.parentVersionId ? ", parent version" : ""}.` },
  };
  const frameworks = mapped.map((f) => ({
    id: f.id,
    name: f.name,
    shortName: f.shortName,
    version: f.version,
    issuingBody: f.issuingBody,
    legalStatus: f.legalStatus,
    legalStatusLabel: LEGAL_STATUS_LABEL[f.legalStatus],
    legalStatusNote: f.legalStatusNote,
    scope: f.scope,
    supersededBy: f.supersededBy ?? null,
    appliesFrom: f.appliesFrom,
    retention: f.retention ?? null,
    sources: f.sources,
    verified: f.verified,
    verification: f.verification,
    items: f.items.map((i) => {
      const ev = i.evidence.map((k) => ({
        key: k,
        label: EVIDENCE[k as EvidenceKey],
        present: evidence[k as EvidenceKey].present,
        detail: evidence[k as EvidenceKey].detail,
      }));
      const when = f.appliesFrom.find((a) => a.id === i.appliesFrom)!;
      return {
        id: i.id,
        title: i.title,
        appliesFrom: {
          date: when.date,
          originalDate: when.originalDate ?? null,
          status: when.status,
          statusLabel: LEGAL_STATUS_LABEL[when.status],
          applies: when.date <= utcDay(now),
        },
        evidence: ev,
        status: ev.every((e) => e.present) ? ("complete" as const) : ev.some((e) => e.present) ? ("partial" as const) : ("missing" as const),
      };
    }),
  }));

  const reviews = requests.map((r) => ({
    number: r.number,
    alias: r.alias,
    status: r.status,
    round: r.round,
    superseded: r.supersededAt ? { at: r.supersededAt, byVersion: vn(r.supersededBy) } : null,
    openedAt: r.createdAt,
    closedAt: r.closedAt,
    signatures: sigRows
      .filter((s) => s.requestId === r.id)
      .map((s) => ({ ...s, aliasHolderVersion: vn(s.aliasHolderVersionId), currentRound: s.round === r.round })),
  }));
  const signatures = reviews.flatMap((r) => r.signatures.map((s) => ({ review: r.number, alias: r.alias, ...s })));
  const rolloutsOut = rolloutRows.map(({ r, deployment, environment }) => ({
    id: r.id,
    deployment,
    environment,
    revision: r.revision,
    cause: r.cause,
    status: r.status,
    primary: vn(r.primaryVersionId),
    canary: vn(r.canaryVersionId),
    canaryPercent: r.canaryPercent,
    shadow: vn(r.shadowVersionId),
    fromPrimary: vn(r.fromPrimaryVersionId),
    role: r.primaryVersionId === v.id ? "primary" : r.canaryVersionId === v.id ? "canary" : r.shadowVersionId === v.id ? "shadow" : "replaced",
    emergencyReason: r.emergencyReason,
    reason: r.reason,
    failedReplica: r.failedReplica,
    actorLabel: r.actorLabel,
    createdAt: r.createdAt,
    settledAt: r.settledAt,
  }));

  // The model's inventory entry: owner, intended use, risk tier and the revalidation it is due for.
  const inventory = await inventoryOf(db, v.modelId, now);

  const manifest = {
    format: "steward-report-manifest",
    version: 2,
    workspaceId: actor.workspaceId,
    // The start of what it covers; not the generation time, so the same records give the same hash.
    periodFrom: utc(period.from),
    model: { name: v.name, version: v.version, sha256: v.sha256, sizeBytes: v.sizeBytes },
    datasets: data.map((d) => ({ role: d.role, ref: `${d.name}@${d.version}`, sha256: d.sha256 })),
    modelCard: card ? { revision: card.revision, sha256: card.sha256 } : null,
    validation: run
      ? { run: run.number, pipeline: run.pipeline, status: run.status, checks: versionChecks.map((c) => ({ name: c.name, status: c.status, value: c.value })) }
      : null,
    signatures: signatures.map((x) => ({ review: x.review, round: x.round, recordHash: x.recordHash })),
    rollouts: rolloutsOut.map((r) => ({ deployment: r.deployment, revision: r.revision, status: r.status })),
    monitoring: {
      requests: trafficOut.reduce((a, t) => a + t.requests, 0),
      driftWindows: drift.length,
      performanceWindows: perf.length,
      incidents: incidents.length,
    },
    frameworks: mapped.map((f) => ({ id: f.id, version: f.version, legalStatus: f.legalStatus })),
    inventory: inventory
      ? {
          owner: inventory.owner?.email ?? null,
          riskTier: inventory.riskTier,
          revalidationDays: inventory.revalidationDays,
          lastRevalidatedAt: inventory.lastRevalidatedAt ? utc(inventory.lastRevalidatedAt) : null,
        }
      : null,
    auditEvents: events.map((e) => ({ seq: e.seq, hash: e.hash })),
    chainHead: head ? { seq: head.seq, hash: head.hash } : null,
    checkpoint: checkpoint
      ? {
          seq: checkpoint.seq,
          headHash: checkpoint.headHash,
          signedAt: checkpoint.signedAt.toISOString(),
          keyId: checkpoint.keyId,
          signature: checkpoint.signature,
        }
      : null,
  };
  const manifestHash = createHash("sha256")
    .update(canonicalize(manifest) ?? "")
    .digest("hex");
  return {
    generatedAt: now,
    generatedBy: actor.email,
    period,
    version: v,
    data: data.map((d) => ({ ...d, columns: d.schema.length })),
    card,
    validation: {
      run: run ?? null,
      runs: runCount?.n ?? 0,
      steps: steps.map((s) => ({ key: s.key, type: s.type, status: s.status, reason: s.reason })),
      checks: versionChecks,
      importance: { metric: (explain?.outputs as { metric?: string } | null)?.metric ?? null, features: importance },
    },
    reviews,
    signatures,
    deployments: deploymentRows.map((d) => ({
      name: d.name,
      environment: d.environment,
      alias: d.alias,
      following: d.following,
      status: d.status,
      revision: d.revision,
      primary: vn(d.primaryVersionId),
      canary: vn(d.canaryVersionId),
      canaryPercent: d.canaryPercent,
      shadow: vn(d.shadowVersionId),
    })),
    rollouts: rolloutsOut,
    emergencyRollbacks: rolloutsOut.filter((r) => r.emergencyReason),
    deploymentEvents: deploymentEventRows.map((e) => ({ ...e, deployment: dName.get(e.deploymentId) ?? e.deploymentId })),
    monitoring: {
      traffic: trafficOut,
      drift: {
        windows: drift.length,
        bySeverity,
        latest: latestDrift
          ? {
              windowStart: latestDrift.windowStart,
              windowEnd: latestDrift.windowEnd,
              maxSeverity: latestDrift.maxSeverity,
              sampled: latestDrift.sampled,
              drifted: driftedFeatures,
            }
          : null,
      },
      performance,
      incidents,
    },
    retention: { days: retentionDays, floors },
    inventory,
    events,
    checkpoint: checkpoint ?? null,
    evidence,
    frameworks,
    manifest,
    manifestHash,
  };
}

export type Report = Awaited<ReturnType<typeof buildReport>>;

/** One sentence per framework for the report's header: what it maps to, as of when. */
export function mappingSentence(f: Report["frameworks"][number]) {
  return `${f.shortName}: ${f.version} (${f.legalStatusLabel}${f.supersededBy ? `; superseded by ${f.supersededBy}` : ""}).`;
}
