import { z } from "zod";
import { AUDIT_ACTIONS } from "./audit-actions";
import { WorkspaceIdInput } from "~/server/shared/identity.schema";

export const ListAuditInput = WorkspaceIdInput.extend({
  actor: z.string().trim().max(254, "Actor filter must be at most 254 characters.").optional(),
  action: z.enum(AUDIT_ACTIONS, { error: () => "Action must be one of the audit actions." }).optional(),
  targetType: z.string().trim().max(60).optional(),
  targetId: z.string().trim().max(200).optional(),
  /** Free text over action, actor, target and metadata. */
  q: z.string().trim().max(200, "Search text must be at most 200 characters.").optional(),
  from: z.coerce.date({ error: "From must be a date and time." }).optional(),
  to: z.coerce.date({ error: "To must be a date and time." }).optional(),
  /** Keyset cursor (tRPC infinite queries name it `cursor`): events with seq below this. */
  cursor: z.number().int().positive().nullish(),
  limit: z.number().int().min(1).max(200).default(50),
});
export type ListAuditInput = z.input<typeof ListAuditInput>;
