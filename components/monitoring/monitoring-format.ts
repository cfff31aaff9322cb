import type { Tone } from "~/components/ui/badge";

export const SEVERITY_TONE: Record<string, Tone> = { none: "passing", moderate: "warning", major: "failing", unknown: "stale" };
export const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;
export const ms = (x: number | null) => (x === null ? "—" : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
export const COLORS = ["#6366f1", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7"];
