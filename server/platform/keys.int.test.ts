import { describe, expect, it } from "vitest";
import { parseSecretRing } from "./key-ring";
import { decodeSession, encodeSession, signInternalCall, verifyInternalCall } from "./keys";

const OLD = `old:${"o".repeat(40)}`;
const NEW = `new:${"n".repeat(40)}`;
const secrets = (ring: string) => parseSecretRing(ring).map((k) => k.secret);

describe("rotating AUTH_SECRETS", () => {
  it("a session signed with the old secret opens during the overlap, not after; new sessions use the new secret", async () => {
    const oldSession = await encodeSession({ token: { sub: "u1", email: "a@example.com" } }, secrets(OLD));
    expect(await decodeSession({ token: oldSession }, secrets(`${NEW},${OLD}`))).toMatchObject({ sub: "u1" });
    expect(await decodeSession({ token: oldSession }, secrets(NEW))).toBeNull();
    const newSession = await encodeSession({ token: { sub: "u2" } }, secrets(`${NEW},${OLD}`));
    expect(await decodeSession({ token: newSession }, secrets(NEW))).toMatchObject({ sub: "u2" });
    expect(await decodeSession({ token: newSession }, secrets(OLD))).toBeNull();
  });
});

describe("internal call signatures", () => {
  const c = { workspaceId: "w", userId: "u", deployment: "d" };
  it("verify with any key of the ring by key id, for one deployment, for a minute", () => {
    const now = Date.now();
    const h = signInternalCall(c, parseSecretRing(OLD), now);
    expect(h.split(".").slice(0, 2)).toEqual(["v2", "old"]);
    expect(verifyInternalCall(h, "d", parseSecretRing(`${NEW},${OLD}`), now)).toMatchObject({ workspaceId: "w", userId: "u", kid: "old" });
    expect(verifyInternalCall(h, "d", parseSecretRing(NEW), now)).toBeNull();
    expect(verifyInternalCall(h, "other", parseSecretRing(`${NEW},${OLD}`), now)).toBeNull();
    expect(verifyInternalCall(h, "d", parseSecretRing(`${NEW},${OLD}`), now + 61_000)).toBeNull();
  });
});
