import type { z } from "zod";

/** A job is data: its name, payload schema and queue options. Handlers live in workers/. */
export type JobDefinition<S extends z.ZodType> = {
  name: string;
  schema: S;
  queue?: { retryLimit?: number; retryDelay?: number; retryBackoff?: boolean; expireInSeconds?: number };
  work?: { batchSize?: number; pollingIntervalSeconds?: number };
};

export function defineJob<S extends z.ZodType>(def: JobDefinition<S>) {
  return def;
}
