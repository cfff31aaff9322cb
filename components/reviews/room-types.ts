import type { RouterOutputs } from "~/components/trpc/client";

/** What the review room shows (the router's inferred output of reviews.get). */
export type Room = RouterOutputs["reviews"]["get"];
export type Member = Room["members"][number];
