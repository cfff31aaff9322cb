import { z } from "zod";

/** The dashboards' time ranges (isomorphic: the router validates them, the pages offer them). */
export const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"] as const;
export type Range = (typeof RANGES)[number];
export const RangeInput = z.enum(RANGES, { error: `range must be one of ${RANGES.join(", ")}.` }).default("1h");
