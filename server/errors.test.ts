import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { AppError, isDatabaseUnavailable } from "./errors";

const coded = (code: string, message = "x") => Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it("recognises a database that is away, however the driver says it and however deep it is wrapped", () => {
    for (const e of [
      coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"),
      coded("57P01", "terminating connection due to administrator command"),
      coded("57P03", "the database system is starting up"),
      coded("08006", "connection failure"),
      coded("08P01", "protocol violation"),
      coded("CONNECTION_ENDED", "write CONNECTION_ENDED 127.0.0.1:5432"),
      coded("CONNECTION_CLOSED", "write CONNECTION_CLOSED 127.0.0.1:5432"),
      new Error("Connection terminated unexpectedly"),
      new DrizzleQueryError("select 1", [], coded("57P01")),
      new Error("outer", { cause: new DrizzleQueryError("select 1", [], coded("ECONNREFUSED")) }),
      new AggregateError([coded("ECONNREFUSED"), coded("ECONNREFUSED")], "all attempts failed"),
    ]) {
      expect(isDatabaseUnavailable(e), String(e.message)).toBe(true);
    }
  });

  it("does not take a request's own failure for an outage", () => {
    for (const e of [
      coded("23505", "duplicate key value violates unique constraint"),
      coded("22P02", "invalid input syntax for type uuid"),
      coded("57014", "canceling statement due to statement timeout"),
      coded("40001", "could not serialize access"),
      new AppError("NOT_FOUND", "Connection terminated unexpectedly"),
      new Error("Connection terminated unexpectedly, or so the user typed"),
      new DrizzleQueryError("select 1", [], coded("42P01")),
      null,
      "ECONNREFUSED",
    ]) {
      expect(isDatabaseUnavailable(e), String(e)).toBe(false);
    }
  });
});
