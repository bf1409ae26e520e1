/**
 * The egress guard of a capture from a serial device server, because every TCP connection of
 * the gateway goes through one. A device from the configuration must be in that
 * configuration's allowlist, as for the agent. A host and port given on the command line are
 * allowed alone, because the technician named them.
 */
import { isIP } from "node:net";
import { Allowlist } from "../egress/allowlist.js";
import { EgressGuard } from "../egress/guard.js";
import { systemLookup } from "../egress/pinning.js";
import { createTcpConnector } from "../link/tcp.js";
import type { Connector } from "../link/types.js";

/** Returns the allowlist of exactly one device server. */
export function deviceServerAllowlist(host: string, port: number): Allowlist {
  return new Allowlist([{ host, port, protocol: "tcp", purpose: "device-server" }], "configured");
}

/**
 * Returns a connector to a device server through a guard of `allowlist`. A host name is
 * resolved at connect time and pinned, so the connection goes only to the addresses found.
 */
export function guardedTcpConnector(host: string, port: number, allowlist: Allowlist): Connector {
  return {
    description: `tcp ${host}:${port}`,
    connect: async () => {
      if (isIP(host) === 0) allowlist.pin(host, await systemLookup(host));
      return createTcpConnector(host, port, new EgressGuard(allowlist)).connect();
    },
  };
}
