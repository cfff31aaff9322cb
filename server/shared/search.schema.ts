import { z } from "zod";
import { WorkspaceIdInput } from "./identity.schema";

/** The palette's search: what the person typed (a name, "credit-risk@3", "#2", an alias, a person). */
export const SearchInput = WorkspaceIdInput.extend({ q: z.string().trim().max(100, { error: "Search for at most 100 characters." }) });
export type SearchInput = z.infer<typeof SearchInput>;

export const SEARCH_KINDS = ["model", "version", "alias", "dataset", "pipeline", "deployment", "review", "run", "person"] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

/** One hit: what it is, how it reads, and where it is (relative to the workspace). */
export type SearchHit = { kind: SearchKind; id: string; title: string; detail: string | null; href: string };
