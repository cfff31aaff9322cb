import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { RegistryName } from "~/server/shared/registry.schema";

// Isomorphic (zod only): the tRPC procedures, the REST routes and the inventory dialog
// validate with these same schemas.

export const RISK_TIERS = ["high", "medium", "low"] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

export const INVENTORY_STATUSES = ["current", "due soon", "overdue", "not assessed"] as const;
export type InventoryStatus = (typeof INVENTORY_STATUSES)[number];

/** EU AI Act Annex III areas (and the 5(b) fraud-detection exception), as the questionnaire offers them. */
export const ANNEX_III_AREAS = [
  "none",
  "biometrics",
  "critical_infrastructure",
  "education",
  "employment",
  "public_benefits",
  "creditworthiness",
  "fraud_detection",
  "insurance",
  "emergency",
  "law_enforcement",
  "migration",
  "justice_democracy",
] as const;
export type AnnexIIIArea = (typeof ANNEX_III_AREAS)[number];

const YesNo = z.enum(["yes", "no"], { error: "Answer yes or no." });
const Level = z.enum(["high", "medium", "low"], { error: "Choose high, medium or low." });

/**
 * The risk questionnaire's answers, by question id (texts and framework mapping:
 * inventory.risk.ts). The Article 6(3) questions are asked only for an Annex III area.
 */
export const RiskAnswers = z
  .object({
    annexIII: z.enum(ANNEX_III_AREAS, { error: "Choose the area the model is used in, or “None of these”." }),
    annexI: YesNo,
    narrowTask: YesNo.optional(),
    profiling: YesNo.optional(),
    purpose: z.enum(["regulatory", "customer", "business", "informational"], { error: "Choose what the model's output is used for." }),
    exposure: Level,
    reliance: z.enum(["automated", "primary", "supporting"], { error: "Choose how much decisions rely on the model." }),
    complexity: Level,
    generative: YesNo,
  })
  .superRefine((a, ctx) => {
    if (a.annexIII === "none" || a.annexIII === "fraud_detection") return;
    for (const k of ["narrowTask", "profiling"] as const) {
      if (!a[k]) ctx.addIssue({ code: "custom", path: [k], message: "Answer this question: the model is used in an EU AI Act Annex III area." });
    }
  });
export type RiskAnswers = z.infer<typeof RiskAnswers>;

/** What an inventory entry holds; the tier and its rationale are computed from the answers. */
export const InventoryData = z.object({
  ownerId: z.uuid("Choose the model's owner."),
  intendedUse: z
    .string({ error: "Describe the intended use." })
    .trim()
    .min(10, "Describe the intended use in at least 10 characters.")
    .max(2000, "Intended use must be at most 2,000 characters."),
  riskAnswers: RiskAnswers,
  revalidationDays: z.coerce
    .number({ error: "Revalidation cadence must be a number of days." })
    .int("Revalidation cadence must be a whole number of days.")
    .min(7, "Revalidation cadence must be at least 7 days.")
    .max(1830, "Revalidation cadence must be at most 1,830 days (five years)."),
});
export type InventoryData = z.infer<typeof InventoryData>;

export const InventoryModelRef = WorkspaceIdInput.extend({ name: RegistryName });

export const UpdateInventoryInput = InventoryModelRef.extend({ data: InventoryData });
export type UpdateInventoryInput = z.infer<typeof UpdateInventoryInput>;

/** A revalidation recorded by hand (compliance officer): when, and a note saying what was done. */
export const RevalidationData = z.object({
  note: z
    .string({ error: "Say what was revalidated." })
    .trim()
    .min(5, "Say what was revalidated in at least 5 characters.")
    .max(2000, "The note must be at most 2,000 characters."),
  /** Defaults to now; a past date records a revalidation done earlier. */
  at: z.coerce.date({ error: "The date must be a valid date." }).optional(),
});
export type RevalidationData = z.infer<typeof RevalidationData>;

export const RecordRevalidationInput = InventoryModelRef.extend({ data: RevalidationData });
export type RecordRevalidationInput = z.infer<typeof RecordRevalidationInput>;

export const InventoryFilter = z.object({
  tier: z.enum([...RISK_TIERS, "unassessed"]).optional(),
  status: z.enum(INVENTORY_STATUSES).optional(),
  /** A user id, or "none" for models without an owner. */
  owner: z.union([z.uuid(), z.literal("none")]).optional(),
});
export type InventoryFilter = z.infer<typeof InventoryFilter>;

export const ListInventoryInput = WorkspaceIdInput.extend(InventoryFilter.shape);
