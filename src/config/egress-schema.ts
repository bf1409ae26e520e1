/**
 * The egress and audit settings of the configuration: the allowlist of destinations the gateway
 * may reach (and the networks that may reach it), the host firewall made from it, and the
 * bounded audit file. Part of the one configuration schema in schema.ts.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { mappedIpv4, networkAddress, sameAddress } from "./ip-address.js";

/** Purposes whose entries admit connections in to the gateway; all others are outbound. */
export const inboundPurposes = ["opcua-client", "admin"] as const;

export const egressPurposes = [
  "broker",
  "device-server",
  "dns",
  "time",
  "tunnel",
  ...inboundPurposes,
] as const;

export type EgressPurpose = (typeof egressPurposes)[number];

/** A DNS name as RFC 1123 allows it: labels of letters, digits and inner hyphens. */
const hostNamePattern =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Returns true for an IP address or a CIDR block, false for a host name. */
function parseableAsAddress(host: string): boolean {
  return isIP(host.split("/")[0] ?? "") !== 0;
}

/** Returns what is wrong with an allowlist host (name, address or CIDR), or undefined. */
export function allowlistHostProblem(host: string): string | undefined {
  if (host.includes("%")) {
    const address = host.slice(0, host.indexOf("%"));
    return (
      `${host}: nftables rules cannot match a zone id (${host.slice(address.length)}); ` +
      `write the address alone, ${address}`
    );
  }
  const slash = host.indexOf("/");
  if (slash >= 0) return cidrProblem(host, host.slice(0, slash), host.slice(slash + 1));
  if (isIP(host) !== 0) return addressProblem(host, host);
  if (/^[\d.]+$/.test(host)) {
    return `${host} is not a valid IPv4 address (each of the four numbers is 0 to 255)`;
  }
  if (hostNamePattern.test(host)) return undefined;
  return `${host} is not a host name, an IP address or a CIDR block such as 10.20.0.0/16`;
}

function cidrProblem(host: string, address: string, prefix: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${host}: the part before "/" must be an IPv4 or IPv6 address`;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
    return `${host}: the prefix length must be 1 to ${max}`;
  }
  if (Number(prefix) === 0) {
    return `${host} allows every address, which defeats the allowlist; list the networks the gateway needs`;
  }
  const mapped = addressProblem(host, address);
  if (mapped !== undefined) return mapped;
  const network = networkAddress(address, Number(prefix));
  if (!sameAddress(network, address)) {
    return `${host} has host bits set; write the network address, ${network}/${prefix}`;
  }
  return undefined;
}

function addressProblem(host: string, address: string): string | undefined {
  const ipv4 = mappedIpv4(address);
  if (ipv4 === undefined) return undefined;
  return (
    `${host} is an IPv4-mapped IPv6 address, which IPv4 packets never carry; ` +
    `write the IPv4 address, ${ipv4}`
  );
}

const allowlistEntrySchema = z
  .object({
    /** A host name (resolved and pinned by the agent), an IP address, or a CIDR block. */
    host: z.string().refine((host) => allowlistHostProblem(host) === undefined, {
      error: (issue) => allowlistHostProblem(String(issue.input)) ?? "is invalid",
    }),
    /** Destination port; for inbound purposes, the gateway's own listening port. */
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(["tcp", "udp"]).default("tcp"),
    /**
     * The entry's use. Entries for opcua-client, admin and tunnel (unless direction is out)
     * admit connections from `host` to `port` on the gateway. The others allow connections out.
     */
    purpose: z.enum(egressPurposes),
    /**
     * Only for purpose tunnel: in (default) admits legacy devices from `host` to the tunnel's
     * listener on `port`; out allows the tunnel's upstream connection to `host`.
     */
    direction: z.enum(["in", "out"]).optional(),
    /** Free text shown in the firewall's rule comment, such as "site NTP server". */
    note: z
      .string()
      .max(100)
      .regex(/^[^"\\\n]*$/, 'must not contain ", \\ or a line break')
      .optional(),
  })
  .strict()
  .refine((entry) => entry.direction === undefined || entry.purpose === "tunnel", {
    message: "direction is only for purpose tunnel; other purposes have a fixed direction",
    path: ["direction"],
  })
  .refine((entry) => entry.purpose !== "dns" || parseableAsAddress(entry.host), {
    message: "a dns entry must be an address or CIDR block: a resolver cannot be found by name",
    path: ["host"],
  });

export type AllowlistEntry = z.infer<typeof allowlistEntrySchema>;

/** Returns whether an entry admits connections in to the gateway or allows them out. */
export function directionOf(entry: Pick<AllowlistEntry, "purpose" | "direction">): "in" | "out" {
  if (entry.purpose === "tunnel") return entry.direction ?? "in";
  return (inboundPurposes as readonly string[]).includes(entry.purpose) ? "in" : "out";
}

/** Rejects an entry that repeats an earlier one, so each rule in the firewall has one source. */
function rejectDuplicateEntries(
  entries: readonly AllowlistEntry[],
  context: z.RefinementCtx,
): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const key = JSON.stringify([
      entry.host.toLowerCase(),
      entry.port,
      entry.protocol,
      entry.purpose,
      directionOf(entry),
    ]);
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, index);
      return;
    }
    context.addIssue({
      code: "custom",
      path: [index],
      message: `repeats entry ${first} (same host, port, protocol and purpose); remove one of them`,
    });
  });
}

export const egressSchema = z
  .object({
    /**
     * The destinations the gateway may connect to, and the sources that may connect to it.
     * Everything else is denied.
     * Without this setting, the agent allows only its own broker and device servers (derived
     * from broker.url and the devices' tcp links) and the firewall commands refuse to run.
     */
    allowlist: z.array(allowlistEntrySchema).superRefine(rejectDuplicateEntries),
    /** How often names in the allowlist are resolved again. Default 5 min. */
    refreshIntervalMs: z.number().int().min(10_000).max(86_400_000).default(300_000),
    firewall: z
      .object({
        /** When true, `run` loads the nftables ruleset at start and after each address change. */
        manage: z.boolean().default(false),
        /** The agent's own nftables table (family inet); nothing outside it is changed. */
        table: z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, "must be a letter then letters, digits or _")
          .default("iomt_gateway"),
        /** How often `run` reads the firewall's drop counters for health and the audit trail. */
        counterPollMs: z.number().int().min(1000).max(3_600_000).default(10_000),
        /**
         * The resolver configuration whose nameservers the firewall must let through when the
         * allowlist has names. On hosts where /etc/resolv.conf points at the local
         * systemd-resolved stub, its upstream servers are in /run/systemd/resolve/resolv.conf.
         */
        resolvConf: z.string().min(1).default("/etc/resolv.conf"),
      })
      .strict()
      .default({
        manage: false,
        table: "iomt_gateway",
        counterPollMs: 10_000,
        resolvConf: "/etc/resolv.conf",
      }),
  })
  .strict();

export const auditSchema = z
  .object({
    /** Size of <dataDir>/audit.jsonl before it is rotated to audit.jsonl.1. Default 1 MiB. */
    maxFileBytes: z
      .number()
      .int()
      .min(4096)
      .max(256 * 1024 ** 2)
      .default(1024 ** 2),
    /** Rotated files kept besides the current one; the oldest is deleted. Default 4. */
    keepFiles: z.number().int().min(1).max(100).default(4),
  })
  .strict()
  .default({ maxFileBytes: 1024 ** 2, keepFiles: 4 });

export type EgressConfig = z.infer<typeof egressSchema>;
export type AuditConfig = z.infer<typeof auditSchema>;
