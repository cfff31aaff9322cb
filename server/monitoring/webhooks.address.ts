import "server-only";
import dns from "node:dns/promises";
import net from "node:net";
import os from "node:os";

/*
 * Where a webhook may connect. A webhook URL is typed by a workspace admin, and the
 * worker that delivers it sits next to the web app, the inference server and the
 * database: the target's name is resolved once, every address it resolves to is checked,
 * and the connection goes to the checked address (no second lookup, so a DNS answer that
 * changes in between — rebinding — reaches nothing new).
 *
 * Refused always: the unspecified address (it reaches this host) and every address this
 * host's own interfaces hold, whatever the family — the host's public address reaches
 * its own ports as surely as 127.0.0.1 does. Refused unless WEBHOOK_ALLOW_PRIVATE
 * (tests, local setups, which then may use loopback): loopback, private, shared (CGNAT),
 * link-local, multicast, documentation and other reserved ranges, for IPv4 and IPv6,
 * including IPv4 embedded in IPv6 (mapped, NAT64, 6to4).
 */

type Kind = "loopback" | "private" | "link-local" | "multicast" | "reserved";

const V4: [string, number, Kind][] = [
  ["0.0.0.0", 8, "reserved"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"], // shared address space (carrier-grade NAT)
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"], // includes cloud metadata at 169.254.169.254
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"], // documentation
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"], // benchmarking
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"], // includes 255.255.255.255
];
const V6: [string, number, Kind][] = [
  ["::1", 128, "loopback"],
  ["::", 96, "reserved"], // IPv4-compatible (deprecated); :: itself is refused before
  ["100::", 64, "reserved"], // discard
  ["2001::", 23, "reserved"], // IETF protocol assignments (Teredo, ORCHID, …)
  ["2001:db8::", 32, "reserved"], // documentation
  ["3fff::", 20, "reserved"], // documentation
  ["5f00::", 16, "reserved"], // SRv6 SIDs
  ["fc00::", 7, "private"], // unique local
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "reserved"], // site-local (deprecated)
  ["ff00::", 8, "multicast"],
];
// Most specific first: ::1 is also inside the reserved ::/96.
const ranges = new Map<Kind, net.BlockList>((["loopback", "link-local", "private", "multicast", "reserved"] as const).map((k) => [k, new net.BlockList()]));
for (const [addr, prefix, kind] of [...V4.map((r) => [...r, "ipv4"] as const), ...V6.map((r) => [...r, "ipv6"] as const)]) {
  ranges.get(kind)!.addSubnet(addr, prefix, addr.includes(":") ? "ipv6" : "ipv4");
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped), or null. */
function groups6(ip: string): number[] | null {
  let s = ip.split("%")[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)?.[1];
  if (v4) {
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    s = s.slice(0, -v4.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  const all = [...h, ...fill, ...t].map((x) => parseInt(x, 16));
  return all.length === 8 && all.every((x) => x >= 0 && x <= 0xffff) ? all : null;
}

/** The IPv4 address an IPv6 address carries (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
function embeddedV4(ip: string): string | null {
  const g = groups6(ip);
  if (!g) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return null;
}

export type OwnAddresses = { list: net.BlockList; names: Map<string, string> };

/** Every address this host's interfaces hold now (both families), with the interface's name. */
export function hostAddresses(): OwnAddresses {
  const list = new net.BlockList();
  const names = new Map<string, string>();
  for (const [name, infos] of Object.entries(os.networkInterfaces())) {
    for (const i of infos ?? []) {
      const address = i.address.split("%")[0]!;
      const family = net.isIPv6(address) ? "ipv6" : "ipv4";
      list.addAddress(address, family);
      names.set(`${family}:${family === "ipv6" ? (groups6(address) ?? []).join(":") : address}`, name);
    }
  }
  return { list, names };
}

function ownName(ip: string, own: OwnAddresses) {
  const family = net.isIPv6(ip) ? "ipv6" : "ipv4";
  if (!own.list.check(ip, family)) return null;
  const key = family === "ipv6" ? `ipv6:${(groups6(ip) ?? []).join(":")}` : `ipv4:${ip}`;
  return own.names.get(key) ?? own.names.get(`ipv4:${embeddedV4(ip) ?? ""}`) ?? "an interface";
}

function kindOf(ip: string): Kind | null {
  const family = net.isIPv6(ip) ? "ipv6" : "ipv4";
  for (const [kind, list] of ranges) if (list.check(ip, family)) return kind;
  const inner = family === "ipv6" ? embeddedV4(ip) : null;
  return inner ? kindOf(inner) : null;
}

/**
 * Why a webhook may not connect to `ip`, as a phrase ("an address of this host (eth0)"),
 * or null when it may.
 */
export function refusalFor(ip: string, opts: { allowPrivate: boolean; own?: OwnAddresses }): string | null {
  if (!net.isIP(ip)) return "not an IP address";
  const g = net.isIPv6(ip) ? groups6(ip) : null;
  if (ip === "0.0.0.0" || (g && g.every((x) => x === 0)) || embeddedV4(ip) === "0.0.0.0") return "the unspecified address, which reaches this host";
  const kind = kindOf(ip);
  const iface = ownName(ip, opts.own ?? hostAddresses());
  // Loopback is the one address of this host a local setup may call (WEBHOOK_ALLOW_PRIVATE).
  if (iface && !(opts.allowPrivate && kind === "loopback")) return `an address of this host (${iface}), which would reach its own services`;
  if (kind && !opts.allowPrivate) return `a ${kind} address (set WEBHOOK_ALLOW_PRIVATE=true to allow these in a local setup)`;
  return null;
}

type Lookup = (host: string, opts: { all: true; verbatim: true }) => Promise<{ address: string; family: number }[]>;

/**
 * Resolves a webhook URL's host once and checks every address it resolves to; answers
 * the address to connect to. IPv6 literals arrive bracketed ("[::1]") in URL.hostname
 * and are used as they are, without a lookup.
 */
export async function resolveTarget(
  url: URL,
  opts: { allowPrivate: boolean; own?: OwnAddresses; lookup?: Lookup },
): Promise<{ address: string; family: 4 | 6; literal: boolean }> {
  const host = url.hostname.startsWith("[") && url.hostname.endsWith("]") ? url.hostname.slice(1, -1) : url.hostname;
  const literal = net.isIP(host);
  const own = opts.own ?? hostAddresses();
  if (literal) {
    const reason = refusalFor(host, { allowPrivate: opts.allowPrivate, own });
    if (reason) throw new TargetRefused(`refused: ${host} is ${reason}`);
    return { address: host, family: literal as 4 | 6, literal: true };
  }
  let found: { address: string; family: number }[];
  try {
    const lookup: Lookup = opts.lookup ?? ((h, o) => dns.lookup(h, o));
    found = await lookup(host, { all: true, verbatim: true });
  } catch (err) {
    throw new TargetRefused(`${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!found.length) throw new TargetRefused(`${host} resolves to no address`);
  // One bad address refuses the name: connecting to "the good one" would let the next answer pick.
  for (const a of found) {
    const reason = refusalFor(a.address, { allowPrivate: opts.allowPrivate, own });
    if (reason) throw new TargetRefused(`refused: ${host} resolves to ${a.address}, ${reason}`);
  }
  return { address: found[0]!.address, family: found[0]!.family === 6 ? 6 : 4, literal: false };
}

export class TargetRefused extends Error {}
