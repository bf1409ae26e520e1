/**
 * The egress allowlist: which destinations the gateway may connect to, matched by purpose, port,
 * protocol and host. A named host is allowed only at the addresses it resolved to when the agent
 * last resolved it (pinned), so a DNS answer that changes later cannot widen what is allowed.
 * Pure: resolving names is pinning.ts's job.
 */
import { createHash } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { directionOf, type AllowlistEntry, type EgressPurpose } from "../config/egress-schema.js";

export interface Destination {
  /** A host name or an IP address, as configured (broker.url, a device's link). */
  host: string;
  port: number;
  protocol: "tcp" | "udp";
  purpose: EgressPurpose;
}

export type HostKind =
  | { kind: "name"; name: string }
  | { kind: "address"; address: string; family: 4 | 6 }
  | { kind: "cidr"; address: string; prefix: number; family: 4 | 6 };

export interface Rule {
  entry: AllowlistEntry;
  /** Position in egress.allowlist, for messages. */
  index: number;
  host: HostKind;
  direction: "in" | "out";
}

export type AllowlistSource = "configured" | "derived";

export type Authorization =
  { ok: true; rule: Rule; addresses: string[] } | { ok: false; reason: string };

/** Parses an allowlist host, which the configuration schema has already validated. */
export function parseHost(host: string): HostKind {
  const [address = "", prefix] = host.split("/");
  const family = isIP(address);
  if (family === 0) return { kind: "name", name: host.toLowerCase() };
  const ipFamily = family === 4 ? 4 : 6;
  if (prefix === undefined) return { kind: "address", address, family: ipFamily };
  return { kind: "cidr", address, prefix: Number(prefix), family: ipFamily };
}

/** Formats a destination as host:port/protocol, with brackets around an IPv6 address. */
export function formatDestination(destination: Omit<Destination, "purpose">): string {
  const host = isIP(destination.host) === 6 ? `[${destination.host}]` : destination.host;
  return `${host}:${destination.port}/${destination.protocol}`;
}

export class Allowlist {
  readonly rules: readonly Rule[];
  private readonly pinned = new Map<string, string[]>();

  constructor(
    entries: readonly AllowlistEntry[],
    readonly source: AllowlistSource,
  ) {
    this.rules = entries.map((entry, index) => ({
      entry,
      index,
      host: parseHost(entry.host),
      direction: directionOf(entry),
    }));
  }

  /** The distinct host names of the entries, lower case. */
  names(): string[] {
    const names = this.rules.flatMap((rule) => (rule.host.kind === "name" ? [rule.host.name] : []));
    return [...new Set(names)];
  }

  /** Returns the addresses a name is pinned to, sorted; empty when it never resolved. */
  pinnedAddresses(name: string): string[] {
    return this.pinned.get(name.toLowerCase()) ?? [];
  }

  /** Pins a name to `addresses`; returns true when that changes what is allowed. */
  pin(name: string, addresses: readonly string[]): boolean {
    const key = name.toLowerCase();
    const next = [...new Set(addresses)].sort();
    const before = this.pinned.get(key) ?? [];
    this.pinned.set(key, next);
    return before.join(",") !== next.join(",");
  }

  /**
   * Decides whether the agent may connect to `destination`. A destination given by name
   * matches only an entry with the same name and is allowed at that entry's pinned
   * addresses; one given by address matches address and CIDR entries and pinned addresses.
   * With `beforeResolving`, a name entry counts as allowing its name before it resolved,
   * which is what a check of the configuration without DNS can decide.
   */
  authorize(destination: Destination, beforeResolving = false): Authorization {
    const candidates = this.rules.filter(
      (rule) =>
        rule.direction === "out" &&
        rule.entry.purpose === destination.purpose &&
        rule.entry.port === destination.port &&
        rule.entry.protocol === destination.protocol,
    );
    const family = isIP(destination.host);
    if (family === 0) return this.authorizeName(destination, candidates, beforeResolving);
    const rule = candidates.find((candidate) =>
      this.blockListOf(candidate).check(destination.host, family === 4 ? "ipv4" : "ipv6"),
    );
    if (rule !== undefined) return { ok: true, rule, addresses: [destination.host] };
    return { ok: false, reason: missingRule(destination, this.source) };
  }

  /**
   * Returns a fingerprint of what is allowed: the entries and the pinned addresses. It changes
   * whenever a rule or a resolved address changes, so health and the audit trail can show
   * which allowlist a gateway enforces.
   */
  version(): string {
    const canonical = JSON.stringify({
      source: this.source,
      entries: this.rules.map((rule) => rule.entry),
      pinned: [...this.pinned.entries()].sort(([a], [b]) => a.localeCompare(b)),
    });
    return createHash("sha256").update(canonical).digest("hex");
  }

  /** Returns the addresses (or CIDR blocks) a rule allows now, as nftables writes them. */
  addressesOf(rule: Rule): string[] {
    switch (rule.host.kind) {
      case "name":
        return this.pinnedAddresses(rule.host.name);
      case "address":
        return [rule.host.address];
      case "cidr":
        return [`${rule.host.address}/${rule.host.prefix}`];
    }
  }

  private authorizeName(
    destination: Destination,
    candidates: readonly Rule[],
    beforeResolving: boolean,
  ): Authorization {
    const name = destination.host.toLowerCase();
    const rule = candidates.find(
      (candidate) => candidate.host.kind === "name" && candidate.host.name === name,
    );
    if (rule === undefined) return { ok: false, reason: missingRule(destination, this.source) };
    const addresses = this.pinnedAddresses(name);
    if (addresses.length > 0 || beforeResolving) return { ok: true, rule, addresses };
    return {
      ok: false,
      reason:
        `${destination.host} is in egress.allowlist (entry ${rule.index}) but has not resolved ` +
        "to any address yet, so nothing is allowed for it; check the gateway's DNS servers " +
        "and that the allowlist has dns entries for them",
    };
  }

  private blockListOf(rule: Rule): BlockList {
    const list = new BlockList();
    const host = rule.host;
    if (host.kind === "cidr") {
      list.addSubnet(host.address, host.prefix, host.family === 4 ? "ipv4" : "ipv6");
      return list;
    }
    const addresses = host.kind === "address" ? [host.address] : this.pinnedAddresses(host.name);
    for (const address of addresses)
      list.addAddress(address, isIP(address) === 4 ? "ipv4" : "ipv6");
    return list;
  }
}

/** Explains which entry is missing for a denied destination. */
function missingRule(destination: Destination, source: AllowlistSource): string {
  const entry =
    `{ host: ${destination.host}, port: ${destination.port}, ` +
    `protocol: ${destination.protocol}, purpose: ${destination.purpose} }`;
  const fix =
    source === "configured"
      ? `add ${entry} to egress.allowlist`
      : "the allowlist derived from broker.url and the devices' tcp links does not cover it; " +
        `write egress.allowlist with ${entry}`;
  const byName =
    isIP(destination.host) === 0
      ? " (a destination given by name matches only an entry with the same name)"
      : "";
  return `no allowlist entry for ${destination.purpose} ${formatDestination(destination)}${byName}; ${fix}`;
}
