/**
 * An embedded MQTT broker for the demo: aedes behind a Node TLS server that requires a client
 * certificate from the demo CA, on loopback only. Production uses the site's own broker.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:tls";
import type { AddressInfo } from "node:net";
import type { DevPki } from "../../src/pki/dev-ca.js";

export interface DemoBroker {
  port: number;
  stop(): Promise<void>;
}

export async function startDemoBroker(pki: DevPki): Promise<DemoBroker> {
  const { Aedes } = await import("aedes");
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(
    {
      key: readFileSync(pki.server.key),
      cert: readFileSync(pki.server.cert),
      ca: readFileSync(pki.ca.cert),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    (socket) => aedes.handle(socket),
  );
  // A client that fails the TLS handshake is refused; the demo does not need to hear about it.
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
