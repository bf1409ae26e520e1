/**
 * The DNS resolvers the host firewall must let through. The agent resolves the allowlist's
 * names with the system resolver, which sends its queries to the nameservers in resolv.conf,
 * so a ruleset with names but no dns entry for those servers would stop the names resolving.
 */
import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import type { Problem } from "../config/problems.js";
import type { GatewayConfig } from "../config/schema.js";
import type { Allowlist } from "./allowlist.js";

export const defaultResolvConf = "/etc/resolv.conf";

export const resolvedStub = "127.0.0.53";
/** The file listing the upstream servers that systemd-resolved's stub at 127.0.0.53 forwards to. */
export const resolvedUpstreamConf = "/run/systemd/resolve/resolv.conf";

/**
 * Loopback addresses, which the ruleset always accepts. A resolver there (systemd-resolved,
 * dnsmasq) still sends its own queries out through the firewall.
 */
const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/**
 * Reads the nameserver addresses from a resolv.conf file, without zone ids. Returns [] when
 * the file does not exist, because the system resolver then queries the local host.
 */
export function readNameservers(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const servers: string[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = match?.[1]?.split("%")[0];
    if (address !== undefined && isIP(address) !== 0) servers.push(address);
  }
  return servers;
}

/**
 * Returns a message for each nameserver that the allowlist's firewall would block, when the
 * allowlist has names (an allowlist of addresses needs no DNS). For systemd-resolved's stub,
 * the servers it forwards to (in `upstreamConf`) are checked instead. A different loopback
 * resolver's upstream servers are not known here.
 */
export function blockedResolvers(
  allowlist: Allowlist,
  resolvConf: string,
  upstreamConf = resolvedUpstreamConf,
): string[] {
  const names = allowlist.names();
  if (names.length === 0) return [];
  const servers = readNameservers(resolvConf).map((server) => ({ server, from: resolvConf }));
  if (servers.some(({ server }) => server === resolvedStub)) {
    servers.push(
      ...readNameservers(upstreamConf).map((server) => ({ server, from: upstreamConf })),
    );
  }
  return servers.flatMap(({ server, from }) => {
    if (loopback.check(server, isIP(server) === 4 ? "ipv4" : "ipv6")) return [];
    const query = { host: server, port: 53, protocol: "udp", purpose: "dns" } as const;
    if (allowlist.authorize(query).ok) return [];
    return [
      `the resolver ${server} from ${from} has no dns entry, so the firewall would ` +
        `block the lookups of ${names.join(", ")}; add { host: ${server}, port: 53, ` +
        "protocol: udp, purpose: dns } to egress.allowlist (and the same with protocol: tcp " +
        "for answers too large for UDP)",
    ];
  });
}

/** Reports blocked resolvers as configuration problems, for `check` and `run`. */
export function blockedResolverProblems(
  config: Pick<GatewayConfig, "egress">,
  allowlist: Allowlist,
  configFile: string,
): Problem[] {
  const resolvConf = config.egress?.firewall.resolvConf;
  if (resolvConf === undefined) return [];
  return blockedResolvers(allowlist, resolvConf).map((message) => ({
    file: configFile,
    path: "egress.allowlist",
    message,
  }));
}
