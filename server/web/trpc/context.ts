import "server-only";
import { randomUUID } from "node:crypto";

/** `sid`: the sign-in session (auth_sessions) the request came with, when it came with one. */
export type SessionUser = { id: string; email: string; sid?: string };

export type Context = {
  session: SessionUser | null;
  requestId: string;
  ip?: string;
};

/** For tests and jobs: a context as a given user (or anonymous) would have it. */
export function contextFor(user: SessionUser | null, extra: Partial<Context> = {}): Context {
  return { session: user, requestId: randomUUID(), ...extra };
}
