import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createUser } from "~/db/seed/factories";
import { AppError } from "~/server/errors";
import { authenticate } from "~/server/identity/users.service";
import { backoffSeconds, clock, SIGN_IN_BACKOFF } from "./rate-limit";

/**
 * Failed sign-ins slow an attacker down and never lock the real user out. The clock of
 * the throttle is moved by the test; nothing here sleeps.
 */
const ip = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
let now = Date.parse("2026-06-01T12:00:00Z") + Math.floor(Math.random() * 1e9);
const advance = (ms: number) => (now += ms);

async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: "OK", message: "" };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** Fails once as soon as the throttle lets it, and returns the wait the failure imposes. */
async function failOnce(email: string, from: string): Promise<number> {
  for (;;) {
    const r = await outcome(authenticate({ email, password: "wrong-password-123" }, { ip: from }));
    const wait = /Try again in (\d+) seconds?/.exec(r.message);
    if (r.code === "RATE_LIMITED" && wait) {
      advance(Number(wait[1]) * 1000);
      continue;
    }
    expect(r.code).toBe("UNAUTHORIZED");
    return 0;
  }
}

describe("sign-in throttling (progressive delay, no lockout)", () => {
  vi.spyOn(clock, "now").mockImplementation(() => now);
  afterEach(() => advance(24 * 3600_000)); // every test starts with forgotten counters

  it("accepts the correct password after 5 wrong ones once the short computed delay has passed", async () => {
    const user = await createUser();
    const from = ip();
    for (let i = 0; i < 5; i++) await failOnce(user.email, from);
    const delay = backoffSeconds(5, SIGN_IN_BACKOFF.accountIp);
    expect(delay).toBe(2);

    // Within the delay even the right password is refused (otherwise the delay is an oracle)…
    const early = await outcome(authenticate({ email: user.email, password: user.password }, { ip: from }));
    expect(early).toEqual({ code: "RATE_LIMITED", message: "Too many failed sign-ins for this account from this address. Try again in 2 seconds." });
    advance(delay * 1000 - 1);
    expect((await outcome(authenticate({ email: user.email, password: user.password }, { ip: from }))).code).toBe("RATE_LIMITED");
    // …and once it has passed, the right password signs in.
    advance(1);
    await expect(authenticate({ email: user.email, password: user.password }, { ip: from })).resolves.toMatchObject({ id: user.id });
    // Success clears the account's counter: the next typo costs nothing.
    expect((await outcome(authenticate({ email: user.email, password: "typo-password-1" }, { ip: from }))).code).toBe("UNAUTHORIZED");
    await expect(authenticate({ email: user.email, password: user.password }, { ip: from })).resolves.toMatchObject({ id: user.id });
  });

  it("judges one of a burst of parallel guesses when a delay ends, not all of them", async () => {
    const user = await createUser();
    const from = ip();
    for (let i = 0; i < 5; i++) await failOnce(user.email, from);
    advance(backoffSeconds(5, SIGN_IN_BACKOFF.accountIp) * 1000);
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => outcome(authenticate({ email: user.email, password: `parallel-${i}` }, { ip: from }))));
    expect(burst.map((r) => r.code).sort()).toEqual([
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "RATE_LIMITED",
      "UNAUTHORIZED",
    ]);
    // The judged failure set the next, doubled delay.
    expect((await outcome(authenticate({ email: user.email, password: user.password }, { ip: from }))).message).toMatch(/Try again in 4 seconds\./);
  });

  it("does not slow down the same account from another address, nor another user behind the same address", async () => {
    const victim = await createUser();
    const colleague = await createUser();
    const nat = ip();
    for (let i = 0; i < 10; i++) await failOnce(victim.email, ip()); // a stranger guessing from anywhere
    for (let i = 0; i < 10; i++) await failOnce(colleague.email, nat); // someone behind the office NAT
    // The victim, from home, signs in at once; so does the victim from the office address.
    await expect(authenticate({ email: victim.email, password: victim.password }, { ip: ip() })).resolves.toMatchObject({ id: victim.id });
    await expect(authenticate({ email: victim.email, password: victim.password }, { ip: nat })).resolves.toMatchObject({ id: victim.id });
  });

  it("gives an attacker doubling delays per account + address, up to 15 minutes", async () => {
    const user = await createUser();
    const from = ip();
    const waits: number[] = [];
    while (waits.length < 11) {
      const r = await outcome(authenticate({ email: user.email, password: `guess-${waits.length}` }, { ip: from }));
      if (r.code !== "RATE_LIMITED") {
        expect(r.code).toBe("UNAUTHORIZED");
        continue;
      }
      const s = Number(/Try again in (\d+) seconds?\.$/.exec(r.message)![1]);
      waits.push(s);
      advance(s * 1000); // the attacker waits exactly as long as told, then guesses again
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]);
  });

  it("slows an address that sprays one password across many accounts, by at most a minute per attempt", async () => {
    const from = ip();
    const colleague = await createUser();
    const waits: number[] = [];
    let failures = 0;
    while (waits.length < 8) {
      const target = `spray-${failures}-${randomBytes(3).toString("hex")}@test.steward.local`;
      const r = await outcome(authenticate({ email: target, password: "Winter2026!!" }, { ip: from }));
      if (r.code !== "RATE_LIMITED") {
        expect(r.code).toBe("UNAUTHORIZED");
        failures++;
        continue;
      }
      expect(r.message).toMatch(/^Too many failed sign-ins from this address\./);
      const s = Number(/Try again in (\d+) seconds?\.$/.exec(r.message)![1]);
      waits.push(s);
      advance(s * 1000);
    }
    expect(failures).toBe(SIGN_IN_BACKOFF.ip.freeFailures + 8);
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    // The attacker fails once more; a colleague behind that address is delayed, not locked
    // out: after the wait, the right password works.
    expect((await outcome(authenticate({ email: `spray-last@test.steward.local`, password: "Winter2026!!" }, { ip: from }))).code).toBe("UNAUTHORIZED");
    const r = await outcome(authenticate({ email: colleague.email, password: colleague.password }, { ip: from }));
    expect(r.code).toBe("RATE_LIMITED");
    advance(Number(/Try again in (\d+) seconds?\.$/.exec(r.message)![1]) * 1000);
    await expect(authenticate({ email: colleague.email, password: colleague.password }, { ip: from })).resolves.toMatchObject({ id: colleague.id });
  });

  it("forgets a counter an hour after its last failure", async () => {
    const user = await createUser();
    const from = ip();
    for (let i = 0; i < 6; i++) await failOnce(user.email, from);
    advance(backoffSeconds(6, SIGN_IN_BACKOFF.accountIp) * 1000 + 61 * 60_000);
    // Counting starts again: three free failures, then the first costly one costs 1 s.
    for (let i = 0; i < 3; i++)
      expect((await outcome(authenticate({ email: user.email, password: "wrong-password-123" }, { ip: from }))).code).toBe("UNAUTHORIZED");
    expect((await outcome(authenticate({ email: user.email, password: "wrong-password-123" }, { ip: from }))).code).toBe("UNAUTHORIZED");
    expect((await outcome(authenticate({ email: user.email, password: user.password }, { ip: from }))).message).toMatch(/Try again in 1 second\./);
  });
});

describe("backoffSeconds", () => {
  it("is free for typos, then doubles from one second to the cap", () => {
    const p = SIGN_IN_BACKOFF.accountIp;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffSeconds(n, p))).toEqual([0, 0, 0, 1, 2, 4, 8]);
    expect(backoffSeconds(40, p)).toBe(900);
    expect(backoffSeconds(1000, SIGN_IN_BACKOFF.ip)).toBe(60);
  });
});
