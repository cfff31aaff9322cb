import { z } from "zod";
import euAiAct from "~/server/shared/frameworks/eu-ai-act.json";
import sr117 from "~/server/shared/frameworks/sr-11-7.json";
import usMrm2026 from "~/server/shared/frameworks/us-mrm-2026.json";

/*
 * Compliance frameworks are data: one JSON file each in frameworks/, checked against this
 * schema when loaded (and by a unit test), so a malformed file fails loudly rather than
 * printing a half-empty checklist. Isomorphic (no server imports): the settings page lists
 * them and shows their retention floors with the same table the server enforces.
 */

const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD");
export const LEGAL_STATUSES = ["in_force", "agreed_not_yet_published", "superseded"] as const;
export type LegalStatus = (typeof LEGAL_STATUSES)[number];
export const LEGAL_STATUS_LABEL: Record<LegalStatus, string> = {
  in_force: "in force",
  agreed_not_yet_published: "agreed, not yet published",
  superseded: "superseded",
};

export const FrameworkSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  name: z.string().min(1),
  shortName: z.string().min(1),
  version: z.string().min(1),
  issuingBody: z.string().min(1),
  legalStatus: z.enum(LEGAL_STATUSES),
  legalStatusNote: z.string().min(1),
  scope: z.string().min(1),
  supersedes: z.array(z.string()).optional(),
  supersededBy: z.string().optional(),
  supersededOn: IsoDate.optional(),
  appliesFrom: z
    .array(
      z.object({
        id: z.string().min(1),
        provisions: z.string().min(1),
        date: IsoDate,
        originalDate: IsoDate.optional(),
        until: IsoDate.optional(),
        status: z.enum(LEGAL_STATUSES),
        note: z.string().optional(),
      }),
    )
    .min(1),
  /** A minimum retention of logs this framework requires, enforced on the named workspace setting. */
  retention: z.object({ minDays: z.number().int().positive(), field: z.literal("predictionRetentionDays"), basis: z.string().min(1) }).optional(),
  sources: z
    .array(
      z.object({
        title: z.string().min(1),
        url: z.url(),
        kind: z.enum(["primary", "secondary"]),
        read: IsoDate,
        readVia: z.url().optional(),
        note: z.string().optional(),
      }),
    )
    .min(1),
  /** True only when every statement was checked against the primary source itself. */
  verified: z.boolean(),
  verification: z.string().min(1),
  items: z.array(z.object({ id: z.string().min(1), title: z.string().min(1), appliesFrom: z.string().min(1), evidence: z.array(z.string()).min(1) })).min(1),
});
export type Framework = z.infer<typeof FrameworkSchema>;

/** Every evidence key a framework item may name, and what it means in Steward's records. */
export const EVIDENCE = {
  model_description: "Description of the model version",
  intended_use: "Model card written (intended use and limitations)",
  version_control: "Git commit of the code that produced it",
  parent_version: "Parent version (lineage of models)",
  params: "Training parameters",
  model_signature: "ONNX signature: inputs, outputs, operators; loads in onnxruntime",
  training_data: "Training dataset versions",
  evaluation_data: "Evaluation dataset versions",
  data_profiles: "Profiles of the datasets (schema, distributions)",
  metrics: "Recorded evaluation metrics",
  validation_checks: "Validation checks with thresholds (validation pipeline)",
  fairness: "Fairness analysis (fairness step of the validation pipeline)",
  robustness: "Robustness analysis (robustness step of the validation pipeline)",
  explainability: "Feature importance (explain step of the validation pipeline)",
  review_signatures: "Review e-signatures",
  deployment_history: "Deployments and rollouts of this version",
  monitoring: "Monitoring while it served: drift, performance, incidents",
  log_retention: "Prediction logs kept for at least the framework's minimum",
  integrity_hashes: "sha256 of the artifact and of every dataset",
  untrusted_file_inspection: "The file was inspected in a sandboxed process before registration",
  audit_events: "The version's audit events with their hashes",
  signed_checkpoint: "A signed checkpoint covering those events",
  lineage: "Lineage from data to model to aliases",
} as const;
export type EvidenceKey = keyof typeof EVIDENCE;

function load(raw: unknown): Framework {
  const f = FrameworkSchema.parse(raw);
  for (const i of f.items) {
    for (const k of i.evidence) if (!(k in EVIDENCE)) throw new Error(`Framework ${f.id}, item ${i.id}: unknown evidence key "${k}".`);
    if (!f.appliesFrom.some((a) => a.id === i.appliesFrom))
      throw new Error(`Framework ${f.id}, item ${i.id}: appliesFrom "${i.appliesFrom}" is not one of its dates.`);
  }
  return f;
}

/** Current frameworks first; superseded ones stay so that older reports can still be read. */
export const FRAMEWORKS: readonly Framework[] = [load(euAiAct), load(usMrm2026), load(sr117)];
export const FRAMEWORK_IDS = FRAMEWORKS.map((f) => f.id);

export function frameworkById(id: string): Framework | undefined {
  return FRAMEWORKS.find((f) => f.id === id);
}

/** What a report maps to: the workspace's choice, or every framework in force when it has made none. */
export function frameworksFor(enabled: readonly string[]): Framework[] {
  if (enabled.length === 0) return FRAMEWORKS.filter((f) => f.legalStatus !== "superseded");
  return FRAMEWORKS.filter((f) => enabled.includes(f.id));
}

/** The highest retention floor among the enabled frameworks (null when none sets one). */
export function retentionFloor(enabled: readonly string[]): { days: number; framework: Framework } | null {
  let best: { days: number; framework: Framework } | null = null;
  for (const id of enabled) {
    const f = frameworkById(id);
    if (f?.retention && (!best || f.retention.minDays > best.days)) best = { days: f.retention.minDays, framework: f };
  }
  return best;
}
