import net from "node:net";
import { describe, expect, it } from "vitest";
import { hostAddresses, refusalFor, resolveTarget, type OwnAddresses } from "./webhooks.address";

/** A host whose interfaces hold 127.0.0.1, ::1, 203.0.114.7 (public) and 2a01:4f8::7 (public). */
function fakeHost(): OwnAddresses {
  const list = new net.BlockList();
  const names = new Map<string, string>();
  for (const [a, f, n] of [
    ["127.0.0.1", "ipv4", "lo"],
    ["::1", "ipv6", "lo"],
    ["203.0.114.7", "ipv4", "eth0"],
    ["2a01:4f8::7", "ipv6", "eth0"],
  ] as const) {
    list.addAddress(a, f);
    names.set(f === "ipv4" ? `ipv4:${a}` : `ipv6:${a === "::1" ? "0:0:0:0:0:0:0:1" : "10753:1272:0:0:0:0:0:7"}`, n);
  }
  return { list, names };
}
const own = fakeHost();

describe("webhook address guard", () => {
  it("refuses the host's own addresses in every family and spelling, even when private targets are allowed", () => {
    for (const ip of ["203.0.114.7", "::ffff:203.0.114.7", "::ffff:cb00:7207", "2a01:4f8::7", "2a01:04f8:0:0:0:0:0:0007"]) {
      for (const allowPrivate of [false, true])
        expect(refusalFor(ip, { allowPrivate, own }), `${ip} ${allowPrivate}`).toMatch(/^an address of this host \(eth0\)/);
    }
    for (const ip of ["0.0.0.0", "::", "::ffff:0.0.0.0"]) expect(refusalFor(ip, { allowPrivate: true, own }), ip).toMatch(/unspecified/);
    // Loopback is the one own address a local setup may call.
    expect(refusalFor("127.0.0.1", { allowPrivate: true, own })).toBeNull();
    expect(refusalFor("::1", { allowPrivate: true, own })).toBeNull();
    expect(refusalFor("::1", { allowPrivate: false, own })).toMatch(/^an address of this host \(lo\)/);
  });

  it("refuses loopback, private, link-local, multicast and reserved ranges, including IPv4 inside IPv6, unless allowed", () => {
    const cases: [string, RegExp][] = [
      ["127.0.0.2", /loopback/],
      ["10.1.2.3", /private/],
      ["100.64.0.1", /private/],
      ["172.31.255.255", /private/],
      ["192.168.1.1", /private/],
      ["169.254.169.254", /link-local/],
      ["224.0.0.1", /multicast/],
      ["255.255.255.255", /reserved/],
      ["192.0.2.9", /reserved/],
      ["198.18.0.1", /reserved/],
      ["fd00::1", /private/],
      ["fe80::1", /link-local/],
      ["ff02::1", /multicast/],
      ["2001:db8::1", /reserved/],
      ["::ffff:10.0.0.1", /private/],
      ["::ffff:a00:1", /private/],
      ["64:ff9b::7f00:1", /loopback/],
      ["2002:a9fe:a9fe::", /link-local/],
      ["::127.0.0.1", /reserved/],
    ];
    for (const [ip, kind] of cases) {
      expect(refusalFor(ip, { allowPrivate: false, own }), ip).toMatch(kind);
      expect(refusalFor(ip, { allowPrivate: true, own }), ip).toBeNull();
    }
    for (const ip of ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808"])
      expect(refusalFor(ip, { allowPrivate: false, own }), ip).toBeNull();
  });

  it("reads this machine's interfaces", () => {
    const real = hostAddresses();
    expect(real.list.check("127.0.0.1", "ipv4")).toBe(true);
    expect(refusalFor("127.0.0.1", { allowPrivate: false })).toMatch(/this host \(lo/);
  });

  it("resolves once, refuses a name when any of its addresses is refused, and uses IPv6 literals without brackets or lookup", async () => {
    const calls: string[] = [];
    const lookup = (answers: string[]) => (host: string) => {
      calls.push(host);
      return Promise.resolve(answers.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 })));
    };
    await expect(
      resolveTarget(new URL("https://hooks.example.com/x"), { allowPrivate: false, own, lookup: lookup(["93.184.216.34", "10.0.0.5"]) }),
    ).rejects.toThrow("refused: hooks.example.com resolves to 10.0.0.5, a private address");
    await expect(resolveTarget(new URL("https://hooks.example.com/x"), { allowPrivate: true, own, lookup: lookup(["203.0.114.7"]) })).rejects.toThrow(
      /resolves to 203\.0\.114\.7, an address of this host \(eth0\)/,
    );
    expect(
      await resolveTarget(new URL("https://hooks.example.com/x"), { allowPrivate: false, own, lookup: lookup(["2606:4700:4700::1111", "93.184.216.34"]) }),
    ).toEqual({ address: "2606:4700:4700::1111", family: 6, literal: false });
    expect(calls).toEqual(["hooks.example.com", "hooks.example.com", "hooks.example.com"]);
    const none = lookup([]);
    expect(await resolveTarget(new URL("http://[2606:4700:4700::1111]:8443/x"), { allowPrivate: false, own, lookup: none })).toEqual({
      address: "2606:4700:4700::1111",
      family: 6,
      literal: true,
    });
    expect(await resolveTarget(new URL("http://[::1]:9/"), { allowPrivate: true, own, lookup: none })).toEqual({ address: "::1", family: 6, literal: true });
    await expect(resolveTarget(new URL("http://[::1]:9/"), { allowPrivate: false, own, lookup: none })).rejects.toThrow(
      "refused: ::1 is an address of this host (lo)",
    );
    expect(calls).toHaveLength(3);
  });
});
