/**
 * Renders the host firewall from the allowlist as an nftables ruleset in the agent's own table
 * (family inet, so IPv4 and IPv6). Outbound: loopback, replies of allowed connections, IPv6
 * neighbour discovery and the allowlist's outbound entries; everything else is counted, logged
 * (rate-limited) and dropped. Inbound: the same, with the allowlist's inbound entries. The
 * script first creates and deletes the table, so `nft -f` replaces it in one transaction and
 * leaves every other table alone.
 */
import { isIP } from "node:net";
import type { Allowlist, Rule } from "./allowlist.js";

export const counterNames = { out: "egress_denied", in: "ingress_denied" } as const;
export const logPrefixes = {
  out: "iomt-gateway egress denied: ",
  in: "iomt-gateway ingress denied: ",
} as const;

export interface RulesetOptions {
  table: string;
  allowlist: Allowlist;
  /** Comment lines at the top, such as the configuration file it came from. */
  header?: readonly string[];
}

/**
 * ICMPv6 types without which IPv6 stops working on the link (RFC 4861 neighbour discovery).
 * Error messages for allowed connections pass as related.
 */
const neighbourDiscovery =
  "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept";

/** Logged drops per minute, per direction; the counter counts all of them. */
const logRate = "limit rate 10/minute burst 5 packets";

export function renderRuleset(options: RulesetOptions): string {
  const { table, allowlist } = options;
  const lines = [
    ...(options.header ?? []).map((line) => `# ${line}`),
    `# allowlist sha256 ${allowlist.version()}`,
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `\tcounter ${counterNames.out} {`,
    "\t}",
    `\tcounter ${counterNames.in} {`,
    "\t}",
    ...chain("output", "out", allowlist),
    ...chain("input", "in", allowlist),
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

function chain(name: string, direction: "in" | "out", allowlist: Allowlist): string[] {
  const loopback = direction === "out" ? 'oifname "lo" accept' : 'iifname "lo" accept';
  const rules = allowlist.rules.filter((rule) => rule.direction === direction);
  return [
    `\tchain ${name} {`,
    `\t\ttype filter hook ${name} priority filter; policy drop;`,
    `\t\t${loopback}`,
    "\t\tct state established,related accept",
    `\t\t${neighbourDiscovery}`,
    ...rules.flatMap((rule) => ruleLines(rule, allowlist).map((line) => `\t\t${line}`)),
    `\t\tcounter name "${counterNames[direction]}"`,
    `\t\t${logRate} log prefix "${logPrefixes[direction]}" level warn`,
    "\t}",
  ];
}

/** Renders one allowlist entry: a rule per address family, or a comment when it has none. */
function ruleLines(rule: Rule, allowlist: Allowlist): string[] {
  const { entry } = rule;
  const addresses = allowlist.addressesOf(rule);
  const label = `entry ${rule.index}: ${entry.purpose} ${entry.host}`;
  if (addresses.length === 0) return [`# ${label} has no address yet, so nothing is allowed`];
  const side = rule.direction === "out" ? "daddr" : "saddr";
  const comment = `${label}${entry.note === undefined ? "" : ` (${entry.note})`}`.slice(0, 120);
  const lines: string[] = [];
  for (const [family, keyword] of [
    [4, "ip"],
    [6, "ip6"],
  ] as const) {
    const ofFamily = addresses.filter((address) => isIP(address.split("/")[0] ?? "") === family);
    if (ofFamily.length === 0) continue;
    const match = ofFamily.length === 1 ? ofFamily[0] : `{ ${ofFamily.join(", ")} }`;
    lines.push(
      `${keyword} ${side} ${match} ${entry.protocol} dport ${entry.port} accept comment "${comment}"`,
    );
  }
  return lines;
}
