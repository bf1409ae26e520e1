import { spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import type { ConnectionOptions } from "node:tls";

import test, { type ExecutionContext } from "ava";
import mqtt, { type IClientOptions } from "mqtt";

import { hasCode } from "../src/errors.js";
import { createDevPki, type DevPkiOptions } from "../src/pki/dev-ca.js";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.js";
import { connectSubscriber } from "./helpers/subscriber.js";
import { tempDir } from "./helpers/tmp.js";

const serverAuth = "1.3.6.1.5.5.7.3.1";
const clientAuth = "1.3.6.1.5.5.7.3.2";
const hourMs = 60 * 60 * 1000;
const dayMs = 24 * hourMs;

function openssl(dir: string, args: string[]) {
  const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (result.error !== undefined) throw result.error;
  return { status: result.status, output: result.stdout + result.stderr };
}

function readCertificate(file: string): X509Certificate {
  return new X509Certificate(readFileSync(file));
}

async function startBroker(t: ExecutionContext, requireCertificate = true) {
  const pki = await createDevPki(tempDir(t));
  // A separate temporary folder, so that a broker running as user mosquitto can reach it.
  const broker = await startMosquitto({ pki, dir: tempDir(t), requireCertificate });
  t.teardown(() => broker.stop());
  return { pki, broker };
}

interface ConnectOutcome {
  connected: boolean;
  error?: Error & { code?: string | number };
}

/** Connects once with exactly the TLS material given, no retries, and reports what happened. */
async function tryConnect(
  broker: Mosquitto,
  tls: { ca: string; cert?: string; key?: string },
): Promise<ConnectOutcome> {
  const tlsFloor: Pick<ConnectionOptions, "minVersion"> = { minVersion: "TLSv1.2" };
  const options: IClientOptions = {
    protocolVersion: 5,
    ca: readFileSync(tls.ca),
    ...(tls.cert === undefined ? {} : { cert: readFileSync(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: readFileSync(tls.key) }),
    servername: "localhost",
    connectTimeout: 5_000,
    reconnectPeriod: 0,
  };
  const client = mqtt.connect(broker.url, { ...tlsFloor, ...options });
  const outcome = await new Promise<ConnectOutcome>((resolve) => {
    client.once("connect", () => resolve({ connected: true }));
    client.once("error", (error) => resolve({ connected: false, error }));
    client.once("close", () => resolve({ connected: false }));
  });
  // mqtt.js may emit the same TLS error twice; a late one must not become an uncaught error.
  client.on("error", () => undefined);
  await client.endAsync(true);
  return outcome;
}

async function waitForLogText(file: string, text: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await readFile(file, "utf8")).includes(text)) return true;
    await delay(50);
  }
  return false;
}

test("dev PKI certificates verify with openssl", async (t) => {
  const pki = await createDevPki(tempDir(t));

  const chain = openssl(pki.dir, ["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"]);
  t.is(chain.status, 0, chain.output);
  t.regex(chain.output, /^server\.crt: OK$/m);
  t.regex(chain.output, /^client\.crt: OK$/m);

  const server = openssl(pki.dir, [
    "verify",
    "-purpose",
    "sslserver",
    "-CAfile",
    "ca.crt",
    "server.crt",
  ]);
  t.is(server.status, 0, server.output);
  const client = openssl(pki.dir, [
    "verify",
    "-purpose",
    "sslclient",
    "-CAfile",
    "ca.crt",
    "client.crt",
  ]);
  t.is(client.status, 0, client.output);
});

test("openssl rejects misused and rogue certificates", async (t) => {
  const pki = await createDevPki(tempDir(t));

  const clientAsServer = openssl(pki.dir, [
    "verify",
    "-purpose",
    "sslserver",
    "-CAfile",
    "ca.crt",
    "client.crt",
  ]);
  t.not(clientAsServer.status, 0, clientAsServer.output);
  t.regex(clientAsServer.output, /unsuitable certificate purpose/);

  const rogue = openssl(pki.dir, ["verify", "-CAfile", "ca.crt", "rogue-client.crt"]);
  t.not(rogue.status, 0, rogue.output);
  t.regex(rogue.output, /unable to get local issuer certificate/);

  const rogueOwnCa = openssl(pki.dir, ["verify", "-CAfile", "rogue-ca.crt", "rogue-client.crt"]);
  t.is(rogueOwnCa.status, 0, rogueOwnCa.output);
});

test("dev PKI server certificate names and validity", async (t) => {
  const before = Date.now();
  const pki = await createDevPki(tempDir(t), {
    serverNames: ["broker.test", "10.1.2.3"],
    clients: ["gateway-001", "dashboard"],
    days: 10,
  });
  const after = Date.now();
  const ca = readCertificate(pki.ca.cert);
  const server = readCertificate(pki.server.cert);

  t.true(ca.ca);
  t.false(server.ca);
  t.true(server.checkIssued(ca));
  t.is(server.checkHost("localhost"), "localhost");
  t.is(server.checkIP("127.0.0.1"), "127.0.0.1");
  t.is(server.checkHost("broker.test"), "broker.test");
  t.is(server.checkIP("10.1.2.3"), "10.1.2.3");
  t.is(server.checkHost("not-localhost"), undefined);
  t.deepEqual(server.keyUsage, [serverAuth]);

  const notBefore = new Date(server.validFrom).getTime();
  const notAfter = new Date(server.validTo).getTime();
  // X.509 times have whole seconds, hence the 1 s of slack.
  t.true(notBefore >= before - hourMs - 1_000 && notBefore <= after - hourMs);
  t.true(notAfter >= before + 10 * dayMs - 1_000 && notAfter <= after + 10 * dayMs);
});

test("dev PKI client certificates carry their names", async (t) => {
  const pki = await createDevPki(tempDir(t), { clients: ["gateway-001", "dashboard"] });
  const ca = readCertificate(pki.ca.cert);

  t.deepEqual(Object.keys(pki.clients), ["gateway-001", "dashboard"]);
  for (const [name, files] of Object.entries(pki.clients)) {
    const client = readCertificate(files.cert);
    t.is(client.subject, `CN=${name}`);
    t.true(client.checkIssued(ca));
    t.deepEqual(client.keyUsage, [clientAuth]);
    t.true(client.checkPrivateKey(createPrivateKey(readFileSync(files.key))));
  }

  // The rogue client impersonates the first client, but another CA issued it.
  const rogue = readCertificate(pki.rogueClient.cert);
  t.is(rogue.subject, "CN=gateway-001");
  t.false(rogue.checkIssued(ca));
  t.true(rogue.checkIssued(readCertificate(pki.rogueCa.cert)));
});

test("dev PKI serial numbers differ", async (t) => {
  const first = await createDevPki(tempDir(t));
  const second = await createDevPki(tempDir(t));
  const files = [first.ca, first.server, first.rogueClient, second.ca, second.server];
  const serials = files.map((file) => readCertificate(file.cert).serialNumber);

  t.is(new Set(serials).size, serials.length, serials.join(", "));
});

test("dev PKI key files are private by default", async (t) => {
  const pki = await createDevPki(tempDir(t));
  const mode = (file: string) => statSync(file).mode & 0o777;

  for (const file of [
    pki.ca.key,
    pki.server.key,
    pki.clients["client"]?.key,
    pki.rogueClient.key,
  ]) {
    t.is(file === undefined ? undefined : mode(file), 0o600, file);
  }
  t.is(mode(pki.ca.cert), 0o644);
  t.is(mode(pki.server.cert), 0o644);
});

test("dev PKI keyMode sets the key file mode", async (t) => {
  const dir = tempDir(t);
  await createDevPki(dir);
  // Replacing an existing PKI must apply the new mode, not keep the old file's.
  const pki = await createDevPki(dir, { keyMode: 0o640 });

  t.is(statSync(pki.server.key).mode & 0o777, 0o640);
  t.is(statSync(pki.ca.key).mode & 0o777, 0o640);
});

const invalidOptions: Array<[string, DevPkiOptions, RegExp]> = [
  ["client name with a slash", { clients: ["../escape"] }, /client name "\.\.\/escape"/],
  ["reserved client name", { clients: ["server"] }, /client name "server"/],
  ["duplicate client names", { clients: ["a", "a"] }, /must be unique/],
  ["wildcard server name", { serverNames: ["*.example.test"] }, /wildcards are not supported/],
  ["zero days", { days: 0 }, /days must be an integer in 1…3650 \(got 0\)/],
  ["fractional days", { days: 1.5 }, /\(got 1\.5\)/],
  ["days given in milliseconds", { days: 86_400_000 }, /\(got 86400000\)/],
  ["key mode above 0o777", { keyMode: 0o1000 }, /keyMode must be a file mode/],
];

for (const [name, options, message] of invalidOptions) {
  test(`dev PKI rejects ${name}`, async (t) => {
    const error = await t.throwsAsync(createDevPki(tempDir(t), options));
    t.true(hasCode(error, "CONFIG_INVALID"), error?.message);
    t.regex(error?.message ?? "", message);
  });
}

test("broker accepts a valid client certificate", async (t) => {
  const { pki, broker } = await startBroker(t);
  const subscriber = await connectSubscriber(broker.url, pki, "client");
  t.teardown(() => subscriber.close());

  await subscriber.subscribe("test/echo/#");
  await subscriber.client.publishAsync("test/echo/1", JSON.stringify({ n: 1 }), { qos: 1 });
  const [message] = await subscriber.waitFor((m) => m.topic === "test/echo/1", 5_000);

  t.deepEqual(message?.payload, { n: 1 });
  t.is(message?.qos, 1);
  t.is(message?.retain, false);
  // use_identity_as_username: the broker logs the certificate's CN as the username.
  t.true(await waitForLogText(broker.logFile, "u'client'", 5_000), broker.logFile);
});

test("broker rejects a client without certificate", async (t) => {
  const { pki, broker } = await startBroker(t);
  const control = await tryConnect(broker, { ca: pki.ca.cert, ...pki.clients["client"] });
  t.true(control.connected, control.error?.message);

  const outcome = await tryConnect(broker, { ca: pki.ca.cert });

  t.false(outcome.connected);
  // TLS 1.3 reports the missing certificate with its own alert (RFC 8446 section 6.2).
  t.is(outcome.error?.code, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", outcome.error?.message);
});

test("broker rejects a rogue client certificate", async (t) => {
  const { pki, broker } = await startBroker(t);

  const outcome = await tryConnect(broker, { ca: pki.ca.cert, ...pki.rogueClient });

  t.false(outcome.connected);
  t.is(outcome.error?.code, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", outcome.error?.message);
});

test("broker with optional certificates accepts none", async (t) => {
  const { pki, broker } = await startBroker(t, false);

  const outcome = await tryConnect(broker, { ca: pki.ca.cert });

  t.true(outcome.connected, outcome.error?.message);
});

test("subscriber rejects a mismatched server name", async (t) => {
  const { pki, broker } = await startBroker(t);

  const error = await t.throwsAsync(
    connectSubscriber(broker.url, pki, "client", { servername: "not-localhost" }),
  );

  t.is((error as { code?: unknown } | undefined)?.code, "ERR_TLS_CERT_ALTNAME_INVALID");
});

test("broker restart keeps its port", async (t) => {
  const { pki, broker } = await startBroker(t);
  const port = broker.port;

  await broker.restart();
  const subscriber = await connectSubscriber(broker.url, pki, "client");
  t.teardown(() => subscriber.close());

  t.is(broker.port, port);
  t.true(subscriber.client.connected);
});

test("broker start failure quotes the log", async (t) => {
  const pki = await createDevPki(tempDir(t));
  const broken = { ...pki, server: { ...pki.server, key: pki.ca.cert } };

  const error = await t.throwsAsync(startMosquitto({ pki: broken, dir: tempDir(t) }));

  t.regex(error?.message ?? "", /mosquitto exited during start/);
  t.regex(error?.message ?? "", /--- log tail ---/);
});
