import type { AnnexIIIArea, InventoryStatus, RiskAnswers, RiskTier } from "./inventory.schema";

// Isomorphic and pure: the inventory dialog shows the tier live with the same function the
// server stores it with.

export type FrameworkId = "eu-ai-act" | "us-mrm-2026";

type Option<V extends string> = { value: V; label: string; /** The framework item this answer maps to, if any. */ item?: string };
type Question<K extends keyof RiskAnswers> = {
  id: K;
  framework: FrameworkId;
  text: string;
  help?: string;
  options: Option<NonNullable<RiskAnswers[K]>>[];
  /** Asked only when this holds for the answers so far. */
  askedWhen?: (a: Partial<RiskAnswers>) => boolean;
};

const yesNo = [
  { value: "yes", label: "Yes" },
  { value: "no", label: "No" },
] as const satisfies Option<"yes" | "no">[];

const inAnnexIII = (a: Partial<RiskAnswers>) => !!a.annexIII && a.annexIII !== "none" && a.annexIII !== "fraud_detection";

/** Annex III point and short name of each area (Regulation (EU) 2024/1689). */
export const ANNEX_III: Record<Exclude<AnnexIIIArea, "none" | "fraud_detection">, { point: string; name: string }> = {
  biometrics: { point: "1", name: "biometrics" },
  critical_infrastructure: { point: "2", name: "critical infrastructure" },
  education: { point: "3", name: "education and vocational training" },
  employment: { point: "4", name: "employment and workers management" },
  public_benefits: { point: "5(a)", name: "eligibility for public assistance benefits and services" },
  creditworthiness: { point: "5(b)", name: "creditworthiness of natural persons" },
  insurance: { point: "5(c)", name: "life and health insurance risk assessment and pricing" },
  emergency: { point: "5(d)", name: "emergency calls, dispatch and triage" },
  law_enforcement: { point: "6", name: "law enforcement" },
  migration: { point: "7", name: "migration, asylum and border control" },
  justice_democracy: { point: "8", name: "administration of justice and democratic processes" },
};

/** "Annex III 5(b)": the point as the questionnaire shows it, from the one table above. */
const annexItem = (area: keyof typeof ANNEX_III) => `Annex III ${ANNEX_III[area].point}`;

/**
 * The questionnaire, as data: the dialog renders it and assessRisk reads it. The EU AI
 * Act questions decide whether the model is a high-risk AI system (Article 6 with Annex I
 * and Annex III); the others rate its materiality as the 2026 US interagency guidance
 * (SR 26-2 / OCC 2026-13) describes it: what the model is used for and its exposure,
 * how much decisions rely on it, and its complexity and uncertainty.
 */
export const QUESTIONNAIRE = [
  {
    id: "annexIII",
    framework: "eu-ai-act",
    text: "In which of these areas is the model used?",
    help: "EU AI Act Annex III: an AI system used in one of these areas is high-risk unless the Article 6(3) exception applies.",
    options: [
      { value: "none", label: "None of these" },
      {
        value: "biometrics",
        label: "Biometrics: remote identification, categorisation by sensitive traits, emotion recognition",
        item: annexItem("biometrics"),
      },
      {
        value: "critical_infrastructure",
        label: "Safety component of critical infrastructure (digital, road traffic, water, gas, heating, electricity)",
        item: annexItem("critical_infrastructure"),
      },
      { value: "education", label: "Education: admission, grading, level of education, proctoring", item: annexItem("education") },
      { value: "employment", label: "Employment: recruitment, promotion, termination, task allocation, performance monitoring", item: annexItem("employment") },
      { value: "public_benefits", label: "Eligibility for public assistance benefits and services, including healthcare", item: annexItem("public_benefits") },
      { value: "creditworthiness", label: "Creditworthiness or credit score of natural persons", item: annexItem("creditworthiness") },
      { value: "fraud_detection", label: "Detecting financial fraud (excepted from 5(b))" },
      { value: "insurance", label: "Risk assessment and pricing of natural persons in life and health insurance", item: annexItem("insurance") },
      { value: "emergency", label: "Emergency calls, dispatch of emergency services, patient triage", item: annexItem("emergency") },
      { value: "law_enforcement", label: "Law enforcement", item: annexItem("law_enforcement") },
      { value: "migration", label: "Migration, asylum and border control", item: annexItem("migration") },
      { value: "justice_democracy", label: "Administration of justice, elections and referendums", item: annexItem("justice_democracy") },
    ],
  } satisfies Question<"annexIII">,
  {
    id: "narrowTask",
    framework: "eu-ai-act",
    text: "Does it only perform a narrow procedural or preparatory task, without materially influencing the decision?",
    help: "Article 6(3): then it is not high-risk — unless it profiles natural persons.",
    options: yesNo,
    askedWhen: inAnnexIII,
  } satisfies Question<"narrowTask">,
  {
    id: "profiling",
    framework: "eu-ai-act",
    text: "Does it profile natural persons?",
    help: "Article 6(3), last subparagraph: a system that profiles natural persons is always high-risk.",
    options: yesNo,
    askedWhen: inAnnexIII,
  } satisfies Question<"profiling">,
  {
    id: "annexI",
    framework: "eu-ai-act",
    text: "Is it a safety component of a product under EU product legislation (machinery, medical devices, vehicles, toys…)?",
    help: "Article 6(1) with Annex I.",
    options: [
      { value: "yes", label: "Yes", item: "Article 6(1), Annex I" },
      { value: "no", label: "No" },
    ],
  } satisfies Question<"annexI">,
  {
    id: "purpose",
    framework: "us-mrm-2026",
    text: "What is the model's output used for?",
    options: [
      { value: "regulatory", label: "Capital, stress testing, financial or regulatory reporting" },
      { value: "customer", label: "Decisions about individual customers (credit, pricing, eligibility)" },
      { value: "business", label: "Internal business or risk-management decisions" },
      { value: "informational", label: "Information only: analysis, exploration, no decision" },
    ],
  } satisfies Question<"purpose">,
  {
    id: "exposure",
    framework: "us-mrm-2026",
    text: "If the model is wrong, how large is the financial or customer impact?",
    options: [
      { value: "high", label: "High: material losses, or many customers affected" },
      { value: "medium", label: "Moderate" },
      { value: "low", label: "Limited" },
    ],
  } satisfies Question<"exposure">,
  {
    id: "reliance",
    framework: "us-mrm-2026",
    text: "How much do decisions rely on the model?",
    options: [
      { value: "automated", label: "It decides on its own (no human review of each decision)" },
      { value: "primary", label: "It is the main input; a person reviews and decides" },
      { value: "supporting", label: "It is one input among several" },
    ],
  } satisfies Question<"reliance">,
  {
    id: "complexity",
    framework: "us-mrm-2026",
    text: "How complex and uncertain is the model?",
    options: [
      { value: "high", label: "High: opaque method (ensembles, neural networks), sparse or unstable data" },
      { value: "medium", label: "Moderate" },
      { value: "low", label: "Low: simple, transparent and well understood" },
    ],
  } satisfies Question<"complexity">,
  {
    id: "generative",
    framework: "us-mrm-2026",
    text: "Is it a generative or agentic AI model?",
    help: "SR 26-2 leaves generative and agentic AI outside its scope; the materiality answers are still used for the tier.",
    options: yesNo,
  } satisfies Question<"generative">,
] as const;

export type QuestionId = (typeof QUESTIONNAIRE)[number]["id"];

/** The questions asked for these answers (the Article 6(3) ones only for an Annex III area). */
export function askedQuestions(a: Partial<RiskAnswers>) {
  return QUESTIONNAIRE.filter((q) => !("askedWhen" in q) || q.askedWhen(a));
}

const labelOf = (id: QuestionId, value: unknown) =>
  (QUESTIONNAIRE.find((q) => q.id === id)?.options as readonly { value: string; label: string }[] | undefined)?.find((o) => o.value === value)?.label ??
  String(value);

export type FrameworkFinding = { framework: FrameworkId; item: string; outcome: string; text: string };

export type RiskAssessment = {
  /** null while a question that is asked has no answer. */
  tier: RiskTier | null;
  rationale: string;
  frameworks: FrameworkFinding[];
  /** Questions still to answer. */
  missing: QuestionId[];
  /** SR 26-2 materiality on its own, and whether the EU AI Act makes it high-risk. */
  materiality: RiskTier | null;
  euHighRisk: boolean | null;
};

const USE_POINTS = { regulatory: 3, customer: 3, business: 2, informational: 1 } as const;
const LEVEL_POINTS = { high: 3, medium: 2, low: 1 } as const;
const RELIANCE_POINTS = { automated: 3, primary: 2, supporting: 1 } as const;
const TIER_WORD: Record<RiskTier, string> = { high: "High", medium: "Medium", low: "Low" };

/**
 * The risk tier from the questionnaire: high when the EU AI Act makes the model a
 * high-risk AI system, otherwise its SR 26-2 materiality. Materiality scores use,
 * exposure, reliance and complexity 1–3 each: high when a material use (regulatory or
 * customer decisions) meets a high exposure, or the score is 10 or more; low when the
 * score is 6 or less with neither use nor exposure rated high; medium otherwise. The
 * rationale names the answers that drove the tier.
 */
export function assessRisk(answers: Partial<RiskAnswers>): RiskAssessment {
  const a = answers;
  const missing = askedQuestions(a)
    .map((q) => q.id)
    .filter((id) => a[id] === undefined || a[id] === null);
  const frameworks: FrameworkFinding[] = [];

  // EU AI Act: Article 6(1) (Annex I products) and 6(2)-(3) (Annex III areas).
  let euHighRisk: boolean | null = null;
  const euReasons: string[] = [];
  if (a.annexI === "yes") {
    euHighRisk = true;
    euReasons.push("it is a safety component of a product under EU product legislation (Article 6(1), Annex I)");
    frameworks.push({
      framework: "eu-ai-act",
      item: "Article 6(1), Annex I",
      outcome: "high-risk",
      text: "EU AI Act Article 6(1) safety component (Annex I) → high-risk",
    });
  }
  if (a.annexIII === "fraud_detection") {
    frameworks.push({
      framework: "eu-ai-act",
      item: annexItem("creditworthiness"),
      outcome: "not high-risk",
      text: `EU AI Act ${annexItem("creditworthiness")} excepts financial fraud detection → not high-risk on this ground`,
    });
  } else if (a.annexIII && a.annexIII !== "none") {
    const area = ANNEX_III[a.annexIII];
    const item = `Annex III ${area.point}`;
    if (a.profiling === "yes") {
      euHighRisk = true;
      euReasons.push(`it is used for ${area.name} (${item}) and profiles natural persons`);
      frameworks.push({ framework: "eu-ai-act", item, outcome: "high-risk", text: `EU AI Act ${item} ${area.name}, with profiling → high-risk` });
    } else if (a.narrowTask === "yes" && a.profiling === "no") {
      frameworks.push({
        framework: "eu-ai-act",
        item: `${item}, Article 6(3)`,
        outcome: "not high-risk (Article 6(3))",
        text: `EU AI Act ${item} ${area.name}, narrow task without profiling → not high-risk under Article 6(3) (document the assessment, Article 6(4))`,
      });
    } else if (a.narrowTask === "no") {
      euHighRisk = true;
      euReasons.push(`it is used for ${area.name} (${item})`);
      frameworks.push({ framework: "eu-ai-act", item, outcome: "high-risk", text: `EU AI Act ${item} ${area.name} → high-risk` });
    }
  }
  if (
    euHighRisk === null &&
    a.annexI === "no" &&
    (a.annexIII === "none" || a.annexIII === "fraud_detection" || frameworks.some((f) => f.outcome.startsWith("not high-risk (Article 6(3))")))
  ) {
    euHighRisk = false;
  }
  if (a.annexI === "no" && a.annexIII === "none") {
    frameworks.push({
      framework: "eu-ai-act",
      item: "Article 6",
      outcome: "not high-risk",
      text: "EU AI Act: no Annex I product and no Annex III area → not high-risk",
    });
  }

  // SR 26-2 / OCC 2026-13 materiality.
  let materiality: RiskTier | null = null;
  const drivers: string[] = [];
  if (a.purpose && a.exposure && a.reliance && a.complexity) {
    const score = USE_POINTS[a.purpose] + LEVEL_POINTS[a.exposure] + RELIANCE_POINTS[a.reliance] + LEVEL_POINTS[a.complexity];
    const materialUse = USE_POINTS[a.purpose] === 3;
    if (materialUse && a.exposure === "high") {
      materiality = "high";
      drivers.push(`${labelOf("purpose", a.purpose).toLowerCase()} with a high exposure`);
    } else if (score >= 10) {
      materiality = "high";
    } else if (score <= 6 && !materialUse && a.exposure !== "high") {
      materiality = "low";
    } else {
      materiality = "medium";
    }
    const parts = [`use: ${a.purpose}`, `exposure: ${a.exposure}`, `reliance: ${a.reliance}`, `complexity: ${a.complexity}`];
    if (!drivers.length) {
      // Name the answers at the tier's end of the scale: they are what put it there.
      const atEnd = (p: number) => (materiality === "low" ? p === 1 : materiality === "high" ? p === 3 : p >= 2);
      if (atEnd(USE_POINTS[a.purpose])) drivers.push(`use: ${labelOf("purpose", a.purpose).toLowerCase()}`);
      if (atEnd(LEVEL_POINTS[a.exposure])) drivers.push(`${a.exposure} exposure`);
      if (atEnd(RELIANCE_POINTS[a.reliance])) drivers.push(`reliance: ${labelOf("reliance", a.reliance).toLowerCase()}`);
      if (atEnd(LEVEL_POINTS[a.complexity])) drivers.push(`${a.complexity} complexity`);
    }
    frameworks.push({
      framework: "us-mrm-2026",
      item: "Materiality",
      outcome: materiality,
      text: `SR 26-2 / OCC 2026-13 materiality (${parts.join(", ")}; score ${score} of 12) → ${materiality}`,
    });
    if (a.generative === "yes") {
      frameworks.push({
        framework: "us-mrm-2026",
        item: "Scope",
        outcome: "outside scope",
        text: "SR 26-2 / OCC 2026-13 leaves generative and agentic AI outside its scope → apply the institution's own AI risk practices",
      });
    }
  }

  let tier: RiskTier | null = null;
  let rationale: string;
  if (!missing.length && materiality && euHighRisk !== null) {
    tier = euHighRisk ? "high" : materiality;
    const sentences: string[] = [];
    if (euHighRisk) sentences.push(`${TIER_WORD[tier]}: a high-risk AI system under the EU AI Act because ${euReasons.join(" and ")}.`);
    else sentences.push(`${TIER_WORD[tier]}: SR 26-2 materiality is ${materiality} (${drivers.join("; ")}).`);
    if (euHighRisk) sentences.push(`SR 26-2 materiality on its own: ${materiality} (${drivers.join("; ")}).`);
    else {
      const eu = frameworks.find((f) => f.framework === "eu-ai-act");
      if (eu)
        sentences.push(
          eu.outcome.startsWith("not high-risk (Article 6(3))")
            ? `Not high-risk under the EU AI Act: ${eu.item} with a narrow task and no profiling (Article 6(3)).`
            : "Not high-risk under the EU AI Act.",
        );
    }
    if (a.generative === "yes") sentences.push("Generative or agentic AI: outside the scope of SR 26-2.");
    rationale = sentences.join(" ");
  } else {
    rationale = `Answer ${missing.length} more question${missing.length === 1 ? "" : "s"} to compute the tier.`;
  }
  return { tier, rationale, frameworks, missing, materiality, euHighRisk };
}

/** A suggested revalidation cadence for a tier, in days; the owner may choose another. */
export const SUGGESTED_CADENCE_DAYS: Record<RiskTier, number> = { high: 365, medium: 730, low: 1095 };

/** Within this many days of its due date a revalidation is "due soon". */
export const DUE_SOON_DAYS = 14;

const DAY_MS = 86_400_000;

/**
 * When the next revalidation is due and the inventory status: "not assessed" without a
 * tier or cadence; otherwise due `revalidationDays` after the last revalidation (or after
 * the model was created, if it never was) — "overdue" past that, "due soon" within
 * DUE_SOON_DAYS of it, else "current".
 */
export function revalidationStatus(
  m: { riskTier: RiskTier | null; revalidationDays: number | null; lastRevalidatedAt: Date | null; createdAt: Date },
  now: Date,
): { dueAt: Date | null; status: InventoryStatus } {
  if (!m.riskTier || !m.revalidationDays) return { dueAt: null, status: "not assessed" };
  const dueAt = new Date((m.lastRevalidatedAt ?? m.createdAt).getTime() + m.revalidationDays * DAY_MS);
  const left = dueAt.getTime() - now.getTime();
  return { dueAt, status: left < 0 ? "overdue" : left <= DUE_SOON_DAYS * DAY_MS ? "due soon" : "current" };
}
