import "server-only";
import { randomUUID } from "node:crypto";

export type SessionUser = { id: string; email: string };

export type Context = {
  session: SessionUser | null;
  requestId: string;
  ip?: string;
};

/** For tests and jobs: a context as a given user (or anonymous) would have it. */
export function contextFor(user: SessionUser | null, extra: Partial<Context> = {}): Context {
  return { session: user, requestId: randomUUID(), ...extra };
}
