import { Boxes, Database, GitPullRequest, Home, Rocket, Settings, ShieldCheck, Activity, Workflow, type LucideIcon } from "lucide-react";

export type NavItem = { href: string; label: string; icon: LucideIcon; built: boolean; blurb: string };

export const NAV: NavItem[] = [
  { href: "", label: "Home", icon: Home, built: true, blurb: "Activity and what needs you." },
  { href: "/models", label: "Models", icon: Boxes, built: true, blurb: "The model registry: versions, ONNX signatures, aliases, lineage and comparisons." },
  { href: "/datasets", label: "Datasets", icon: Database, built: true, blurb: "Dataset versions keyed by content hash, with inferred schema and profiles." },
  {
    href: "/pipelines",
    label: "Pipelines",
    icon: Workflow,
    built: true,
    blurb: "Validation pipelines run by workers: integrity, evaluation, fairness, robustness, latency.",
  },
  { href: "/reviews", label: "Reviews", icon: GitPullRequest, built: true, blurb: "Review rooms and approval workflows with e-signatures." },
  {
    href: "/deployments",
    label: "Deployments",
    icon: Rocket,
    built: true,
    blurb: "ONNX serving with canary and shadow releases, rollback and prediction logging.",
  },
  { href: "/monitoring", label: "Monitoring", icon: Activity, built: true, blurb: "Live traffic, latency, drift, delayed ground truth and alerts." },
  {
    href: "/governance/audit",
    label: "Governance",
    icon: ShieldCheck,
    built: true,
    blurb: "The tamper-evident audit trail, access review and the model inventory.",
  },
  { href: "/settings", label: "Settings", icon: Settings, built: true, blurb: "Members, workspace and system." },
];

export const UNBUILT_AREAS = Object.fromEntries(NAV.filter((n) => !n.built).map((n) => [n.href.slice(1), n])) as Record<string, NavItem>;
