import test from "ava";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { Allowlist } from "../../src/egress/allowlist.js";
import { EgressGuard, type Denial } from "../../src/egress/guard.js";
import { hasCode } from "../../src/errors.js";
import { createTcpConnector } from "../../src/link/tcp.js";
import { configSchema } from "../../src/config/schema.js";
import { silentLogger } from "../../src/log.js";
import { MqttUplink } from "../../src/mqtt/uplink.js";
import { Outbox } from "../../src/outbox/outbox.js";
import { createDevPki } from "../../src/pki/dev-ca.js";
import { tempDir } from "../helpers/tmp.js";

/** Listens on loopback and counts the connections it accepts. */
async function countingServer(server: Server): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  server.on("connection", (socket) => {
    accepted++;
    socket.on("error", () => undefined);
  });
  server.on("secureConnection", (socket: Socket) => socket.end("hello"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted };
}

test("guard refuses a device server before connecting", async (t) => {
  const server = createNetServer();
  t.teardown(() => server.close());
  const { port, accepted } = await countingServer(server);
  const guard = new EgressGuard(
    new Allowlist(
      [{ host: "127.0.0.1", port: port + 1, protocol: "tcp", purpose: "device-server" }],
      "configured",
    ),
  );
  const denials: Denial[] = [];
  guard.onDenied((denial) => denials.push(denial));
  const error = await t.throwsAsync(createTcpConnector("127.0.0.1", port, guard).connect());
  t.true(hasCode(error, "EGRESS_DENIED"), error?.message);
  t.regex(error?.message ?? "", new RegExp(`127\\.0\\.0\\.1:${port}/tcp`));
  t.is(guard.denied, 1);
  t.is(denials[0]?.destination.port, port);
  // A refused destination gets no SYN: give a connection that was sent time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(accepted(), 0);
});

test("guard connects an allowed name at its pinned address", async (t) => {
  const server = createNetServer();
  t.teardown(() => server.close());
  const { port, accepted } = await countingServer(server);
  const allowlist = new Allowlist(
    [{ host: "moxa1.iomt.test", port, protocol: "tcp", purpose: "device-server" }],
    "configured",
  );
  allowlist.pin("moxa1.iomt.test", ["127.0.0.1"]);
  const connection = await createTcpConnector(
    "moxa1.iomt.test",
    port,
    new EgressGuard(allowlist),
  ).connect();
  t.teardown(() => connection.close());
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(accepted(), 1, "the name resolved only through the pin: .test never resolves in DNS");
});

test("TLS at a pinned address verifies the configured name", async (t) => {
  const dir = tempDir(t);
  const pki = await createDevPki(join(dir, "pki"), { serverNames: ["broker.iomt.test"] });
  const server = createTlsServer({
    cert: readFileSync(pki.server.cert),
    key: readFileSync(pki.server.key),
  });
  t.teardown(() => server.close());
  const { port } = await countingServer(server);
  const entries = ["broker.iomt.test", "other.iomt.test"].map((host) => ({
    host,
    port,
    protocol: "tcp" as const,
    purpose: "broker" as const,
  }));
  const allowlist = new Allowlist(entries, "configured");
  allowlist.pin("broker.iomt.test", ["127.0.0.1"]);
  allowlist.pin("other.iomt.test", ["127.0.0.1"]);
  const guard = new EgressGuard(allowlist);
  const tls = { ca: readFileSync(pki.ca.cert), rejectUnauthorized: true };

  const good = guard.connectTls(
    { host: "broker.iomt.test", port, protocol: "tcp", purpose: "broker" },
    tls,
  );
  t.teardown(() => good.destroy());
  await once(good, "secureConnect");
  t.true(good.authorized);
  t.is(good.remoteAddress, "127.0.0.1");

  const wrong = guard.connectTls(
    { host: "other.iomt.test", port, protocol: "tcp", purpose: "broker" },
    tls,
  );
  t.teardown(() => wrong.destroy());
  const [error] = (await once(wrong, "error")) as [NodeJS.ErrnoException];
  t.is(error.code, "ERR_TLS_CERT_ALTNAME_INVALID", "the certificate does not name other.iomt.test");
});

test("uplink reports a denied broker and sends nothing", async (t) => {
  const dir = tempDir(t);
  const server = createNetServer();
  t.teardown(() => server.close());
  const { port, accepted } = await countingServer(server);
  const outbox = new Outbox(
    {
      file: join(dir, "o.sqlite"),
      maxBytes: 1 << 20,
      maxAgeMs: 3_600_000,
      whenFull: "drop-oldest",
      flushIntervalMs: 1000,
    },
    silentLogger,
  );
  t.teardown(() => outbox.close());

  const errors: Error[] = [];
  const uplink = new MqttUplink({
    broker: configSchema.shape.broker.parse({
      url: `mqtts://127.0.0.1:${port}`,
      caFile: "ca",
      certFile: "cert",
      keyFile: "key",
      reconnectPeriodMs: 100,
    }),
    tls: {
      ca: Buffer.from(""),
      cert: Buffer.from(""),
      key: Buffer.from(""),
      clientCertNotAfter: "",
    },
    clientId: "denied",
    will: { topic: "t/state", payload: "{}" },
    outbox,
    inFlightWindow: 8,
    // The allowlist names the broker's address at another port only.
    guard: new EgressGuard(
      new Allowlist(
        [{ host: "127.0.0.1", port: port + 1, protocol: "tcp", purpose: "broker" }],
        "configured",
      ),
    ),
    onConnectError: (error) => errors.push(error),
    log: silentLogger,
  });

  // The audit events of the start are made before the uplink starts: they are live too.
  t.false(uplink.away, "not started");
  uplink.start();
  t.teardown(() => uplink.stop([], 500));
  // Records a device sends while the first connection is being made are live.
  t.false(uplink.away);
  while (errors.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(hasCode(errors[0], "EGRESS_DENIED"), errors[0]?.message);
  t.true(hasCode(errors[1], "EGRESS_DENIED"), "every reconnect is checked again");
  t.false(uplink.connected);
  t.is(accepted(), 0, "no connection reached the port");
});
