import { cn } from "./cn";

/** One colour per meaning, everywhere in the app. */
export const STATUS_TONES = {
  passing: "bg-emerald-500/15 text-emerald-700 dark:text-emerald-300",
  serving: "bg-sky-500/15 text-sky-700 dark:text-sky-300",
  warning: "bg-amber-500/15 text-amber-800 dark:text-amber-300",
  failing: "bg-red-500/15 text-red-700 dark:text-red-300",
  pending: "bg-violet-500/15 text-violet-700 dark:text-violet-300",
  stale: "bg-zinc-500/15 text-zinc-600 dark:text-zinc-300",
  neutral: "bg-subtle text-muted",
} as const;
export type Tone = keyof typeof STATUS_TONES;

export function Badge({ tone = "neutral", className, ...props }: React.HTMLAttributes<HTMLSpanElement> & { tone?: Tone }) {
  return (
    <span
      className={cn("inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap", STATUS_TONES[tone], className)}
      {...props}
    />
  );
}
