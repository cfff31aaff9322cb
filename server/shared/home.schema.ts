import { z } from "zod";
import { WorkspaceIdInput } from "./identity.schema";

/** The areas the home page's activity feed can be narrowed to. */
export const ACTIVITY_AREAS = ["reviews", "deployments", "pipelines", "alerts", "registry", "team"] as const;
export type ActivityArea = (typeof ACTIVITY_AREAS)[number];

export const ACTIVITY_AREA_LABELS: Record<ActivityArea, string> = {
  reviews: "Reviews",
  deployments: "Deployments",
  pipelines: "Pipelines",
  alerts: "Alerts",
  registry: "Models & data",
  team: "Team",
};

export const HomeActivityInput = WorkspaceIdInput.extend({
  area: z.enum(ACTIVITY_AREAS).optional(),
  limit: z.number().int().min(1).max(100).default(30),
});
export type HomeActivityInput = z.input<typeof HomeActivityInput>;

/** What a "needs you" row is about; the home page picks its icon and tone by it. */
export const NEED_KINDS = [
  "review_to_sign",
  "changes_requested",
  "review_superseded",
  "review_waiting",
  "incident",
  "run_failed",
  "rollout",
  "notification",
] as const;
export type NeedKind = (typeof NEED_KINDS)[number];
