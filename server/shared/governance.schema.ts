import { z } from "zod";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";
import { FRAMEWORK_IDS } from "./frameworks";

/** Which compliance frameworks a workspace reports against (empty: every framework in force). */
export const FrameworksBody = z.object({
  frameworks: z
    .array(z.enum(FRAMEWORK_IDS as [string, ...string[]], { error: () => `frameworks: each must be one of ${FRAMEWORK_IDS.join(", ")}.` }))
    .max(FRAMEWORK_IDS.length)
    .refine((xs) => new Set(xs).size === xs.length, "frameworks: list each framework once."),
  /**
   * When a framework being enabled requires longer log retention than the workspace keeps,
   * the change is refused unless this confirms raising the retention to that minimum.
   */
  raiseRetention: z.boolean().optional(),
});
export const SetFrameworksInput = WorkspaceIdInput.extend(FrameworksBody.shape);
export type SetFrameworksInput = z.infer<typeof SetFrameworksInput>;
