/**
 * The egress guard: every outbound connection of the agent is opened here, after the allowlist
 * allowed its destination, and only to the addresses the allowlist pinned. A denied destination
 * raises EGRESS_DENIED before any packet leaves the gateway.
 */
import type { LookupAddress } from "node:dns";
import { connect as netConnect, isIP, type NetConnectOpts, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { GatewayError } from "../errors.js";
import { formatDestination, type Allowlist, type Destination } from "./allowlist.js";

export interface Denial {
  destination: Destination;
  reason: string;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export class EgressGuard {
  private deniedCount = 0;
  private readonly listeners: ((denial: Denial) => void)[] = [];

  constructor(readonly allowlist: Allowlist) {}

  /** Connections the guard refused since the agent started. */
  get denied(): number {
    return this.deniedCount;
  }

  onDenied(listener: (denial: Denial) => void): void {
    this.listeners.push(listener);
  }

  /** Returns the addresses `destination` may be reached at, or throws EGRESS_DENIED. */
  authorize(destination: Destination): string[] {
    const decision = this.allowlist.authorize(destination);
    if (decision.ok) return decision.addresses;
    this.deniedCount++;
    for (const listener of this.listeners) listener({ destination, reason: decision.reason });
    return raiseDenied(destination, decision.reason);
  }

  /** Opens a TCP connection to an allowed destination, at its pinned addresses only. */
  connectTcp(destination: Destination, options: Omit<NetConnectOpts, "host" | "port">): Socket {
    const addresses = this.authorize(destination);
    return netConnect({
      ...options,
      host: destination.host,
      port: destination.port,
      lookup: pinnedLookup(addresses),
    } as NetConnectOpts);
  }

  /**
   * Opens a TLS connection to an allowed destination at its pinned addresses. The certificate
   * is still checked against the configured name: `servername` defaults to the destination's
   * host when that is a name.
   */
  connectTls(
    destination: Destination,
    options: Omit<ConnectionOptions, "host" | "port" | "lookup">,
  ): TLSSocket {
    const addresses = this.authorize(destination);
    const servername =
      options.servername ?? (isIP(destination.host) === 0 ? destination.host : undefined);
    return tlsConnect({
      ...options,
      ...(servername === undefined ? {} : { servername }),
      host: destination.host,
      port: destination.port,
      lookup: pinnedLookup(addresses),
    });
  }
}

function raiseDenied(destination: Destination, reason: string): never {
  throw new GatewayError(
    "EGRESS_DENIED",
    `connection to ${formatDestination(destination)} (${destination.purpose}) denied: ${reason}`,
  );
}

/**
 * Returns a `lookup` for net.connect that returns the pinned addresses and never queries
 * DNS. Node calls it with `all: true` when it tries several addresses (autoSelectFamily).
 */
export function pinnedLookup(addresses: readonly string[]) {
  return (
    _hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: LookupCallback,
  ) => {
    const wanted = Number(options.family ?? 0) || 0;
    const entries = addresses
      .map((address) => ({ address, family: isIP(address) }))
      .filter((entry) => wanted === 0 || entry.family === wanted);
    const first = entries[0];
    if (first === undefined) {
      const error: NodeJS.ErrnoException = new Error(`no pinned address of family ${wanted}`);
      error.code = "ENOTFOUND";
      callback(error, "", 0);
      return;
    }
    if (options.all === true) callback(null, entries);
    else callback(null, first.address, first.family);
  };
}
