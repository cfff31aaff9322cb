import "server-only";

/** The refusal of a file wider than DATASET_MAX_COLUMNS (the header check and the profiler child both say it). */
export function tooManyColumns(found: number, max: number) {
  return `The file has ${found.toLocaleString("en-US")} columns; Steward profiles at most ${max.toLocaleString("en-US")} (DATASET_MAX_COLUMNS). Split it into narrower files, or ask the administrator to raise the limit.`;
}
