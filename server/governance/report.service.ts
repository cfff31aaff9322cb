import "server-only";
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { and, asc, desc, eq, or, sql } from "drizzle-orm";
import { getDb } from "~/db/client";
import { auditCheckpoints, auditEvents, checks, datasets, datasetVersions, modelCardRevisions, modelVersionDatasets, reviewRequests, reviewSignatures } from "~/db/schema";
import type { WorkspaceActor } from "~/server/audit/actor";
import { getModelVersion } from "~/server/registry/models.service";
import euAiAct from "./frameworks/eu-ai-act.json";
import sr117 from "./frameworks/sr-11-7.json";

/** Frameworks are data: another one (ISO/IEC 42001…) is a JSON file in frameworks/, not code. */
type Framework = { id: string; name: string; items: { id: string; title: string; evidence: string[] }[] };
export const FRAMEWORKS: Framework[] = [euAiAct, sr117];

/** What each evidence key means, and which part of Steward provides it. */
export const EVIDENCE: Record<string, string> = {
  model_description: "Description of the model version",
  intended_use: "Model card: intended use and limitations (review rooms)",
  version_control: "Git commit of the code that produced it",
  parent_version: "Parent version (lineage of models)",
  params: "Training parameters",
  model_signature: "ONNX signature: inputs, outputs, operators; loads in onnxruntime",
  training_data: "Training dataset versions",
  evaluation_data: "Evaluation dataset versions",
  data_profiles: "Profiles of the datasets (schema, distributions)",
  metrics: "Recorded evaluation metrics",
  validation_checks: "Validation pipeline checks with thresholds (pipelines)",
  fairness: "Fairness analysis (pipelines)",
  robustness: "Robustness analysis (pipelines)",
  review_signatures: "Review and approval e-signatures (reviews)",
  deployment_history: "Deployment history (serving)",
  monitoring: "Monitoring summary and incidents (monitoring)",
  integrity_hashes: "sha256 of the artifact and of every dataset",
  untrusted_file_inspection: "The file was inspected in a sandboxed process before registration",
  audit_events: "The version's audit events with their hashes",
  signed_checkpoint: "A signed checkpoint covering those events",
  lineage: "Lineage from data to model to aliases",
};

/**
 * Everything an auditor needs about one model version, from what Steward has recorded,
 * with a manifest of hashes that ties the report to the artifact and the audit chain.
 */
export async function buildReport(actor: WorkspaceActor, name: string, version: number) {
  const v = await getModelVersion(actor, name, version);
  const db = getDb();
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
    .where(eq(modelVersionDatasets.modelVersionId, v.id));
  const events = await db
    .select({ seq: auditEvents.seq, hash: auditEvents.hash, occurredAt: auditEvents.occurredAt, action: auditEvents.action, actorLabel: auditEvents.actorLabel, metadata: auditEvents.metadata, changes: auditEvents.changes })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.workspaceId, actor.workspaceId),
        or(
          eq(auditEvents.targetId, v.id),
          and(eq(auditEvents.targetId, v.modelId), eq(auditEvents.action, "model.alias_moved"), sql`(${auditEvents.changes} -> (${auditEvents.metadata} ->> 'alias')) ->> 1 = ${String(version)}`),
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
  const [head] = await db.select({ seq: auditEvents.seq, hash: auditEvents.hash }).from(auditEvents).where(eq(auditEvents.workspaceId, actor.workspaceId)).orderBy(desc(auditEvents.seq)).limit(1);

  // The model card (latest revision), the version's checks, and every e-signature given for it.
  const [card] = await db.select().from(modelCardRevisions).where(eq(modelCardRevisions.modelVersionId, v.id)).orderBy(desc(modelCardRevisions.revision)).limit(1);
  const versionChecks = await db.select({ name: checks.name, status: checks.status, value: checks.value, threshold: checks.threshold, required: checks.required, createdAt: checks.createdAt }).from(checks).where(eq(checks.modelVersionId, v.id)).orderBy(asc(checks.createdAt));
  const signatures = await db
    .select({ review: reviewRequests.number, alias: reviewRequests.alias, signerName: reviewSignatures.signerName, signerId: reviewSignatures.signerId, role: reviewSignatures.role, decision: reviewSignatures.decision, meaning: reviewSignatures.meaning, signedAt: reviewSignatures.signedAt, artifactSha256: reviewSignatures.artifactSha256, evidenceHash: reviewSignatures.evidenceHash, recordHash: reviewSignatures.recordHash })
    .from(reviewSignatures)
    .innerJoin(reviewRequests, eq(reviewRequests.id, reviewSignatures.requestId))
    .where(eq(reviewRequests.modelVersionId, v.id))
    .orderBy(asc(reviewSignatures.signedAt));
  const cardWritten = Boolean(card && card.revision > 1);
  const train = data.filter((d) => d.role === "train");
  const evalData = data.filter((d) => d.role === "eval");
  const present: Record<string, boolean> = {
    model_description: Boolean(v.description),
    intended_use: cardWritten,
    version_control: Boolean(v.gitCommit),
    parent_version: Boolean(v.parentVersionId),
    params: Object.keys(v.params).length > 0,
    model_signature: v.signature.runtime.loadable,
    training_data: train.length > 0,
    evaluation_data: evalData.length > 0,
    data_profiles: data.length > 0,
    metrics: Object.keys(v.metrics).length > 0,
    validation_checks: versionChecks.length > 0,
    fairness: false,
    robustness: false,
    review_signatures: signatures.some((x) => x.decision === "approve"),
    deployment_history: false,
    monitoring: false,
    integrity_hashes: true,
    untrusted_file_inspection: true,
    audit_events: events.length > 0,
    signed_checkpoint: Boolean(checkpoint),
    lineage: data.length > 0 || Boolean(v.parentVersionId),
  };
  const frameworks = FRAMEWORKS.map((f) => ({
    id: f.id,
    name: f.name,
    items: f.items.map((i) => ({
      ...i,
      evidence: i.evidence.map((k) => ({ key: k, label: EVIDENCE[k] ?? k, present: present[k] ?? false })),
      status: i.evidence.every((k) => present[k]) ? ("complete" as const) : i.evidence.some((k) => present[k]) ? ("partial" as const) : ("missing" as const),
    })),
  }));
  const manifest = {
    format: "steward-report-manifest",
    version: 1,
    workspaceId: actor.workspaceId,
    model: { name: v.name, version: v.version, sha256: v.sha256, sizeBytes: v.sizeBytes },
    datasets: data.map((d) => ({ role: d.role, ref: `${d.name}@${d.version}`, sha256: d.sha256 })),
    auditEvents: events.map((e) => ({ seq: e.seq, hash: e.hash })),
    modelCard: card ? { revision: card.revision, sha256: card.sha256 } : null,
    signatures: signatures.map((x) => ({ review: x.review, recordHash: x.recordHash })),
    chainHead: head ? { seq: head.seq, hash: head.hash } : null,
    checkpoint: checkpoint ? { seq: checkpoint.seq, headHash: checkpoint.headHash, signedAt: checkpoint.signedAt.toISOString(), keyId: checkpoint.keyId, signature: checkpoint.signature } : null,
  };
  const manifestHash = createHash("sha256").update(canonicalize(manifest) ?? "").digest("hex");
  return {
    generatedAt: new Date(),
    generatedBy: actor.email,
    version: v,
    data: data.map((d) => ({ ...d, columns: d.schema.length })),
    card: card ? { revision: card.revision, markdown: card.markdown, sha256: card.sha256 } : null,
    checks: versionChecks,
    signatures,
    events,
    checkpoint: checkpoint ?? null,
    frameworks,
    manifest,
    manifestHash,
  };
}

export type Report = Awaited<ReturnType<typeof buildReport>>;
