/**
 * The stream factory mqtt.js uses for the broker connection: a TLS socket opened by the egress
 * guard, or, when the guard denies the broker, a stream that fails with EGRESS_DENIED so that
 * mqtt.js reports the error and retries after reconnectPeriodMs as for any failed connection.
 */
import { Duplex } from "node:stream";
import type { ConnectionOptions } from "node:tls";
import { hasCode } from "../errors.js";
import type { Destination } from "./allowlist.js";
import type { EgressGuard } from "./guard.js";

/** The TLS settings of mqtt.js's client options that the socket needs. */
const tlsKeys = [
  "ca",
  "cert",
  "key",
  "rejectUnauthorized",
  "minVersion",
  "maxVersion",
  "servername",
  "ciphers",
] as const;

export function openGuardedStream(
  guard: EgressGuard,
  destination: Destination,
  options: ConnectionOptions,
): Duplex {
  const tls: ConnectionOptions = {};
  for (const key of tlsKeys) {
    if (options[key] !== undefined) Object.assign(tls, { [key]: options[key] });
  }
  try {
    const socket = guard.connectTls(destination, tls);
    // mqtt.js already writes the packets of one turn of the event loop together. Nagle's
    // algorithm would hold a small packet until the broker acknowledges the one before, and
    // a broker that delays its ACK (Linux does, up to 40 ms) would delay the record with it.
    socket.setNoDelay(true);
    return socket;
  } catch (error) {
    if (!hasCode(error, "EGRESS_DENIED")) throw error;
    return failedStream(error as Error);
  }
}

/** Returns a stream that writes nothing and fails with `error` on the next tick. */
function failedStream(error: Error): Duplex {
  const stream = new Duplex({
    read: () => undefined,
    write: (_chunk, _encoding, callback) => callback(),
  });
  process.nextTick(() => stream.destroy(error));
  return stream;
}
