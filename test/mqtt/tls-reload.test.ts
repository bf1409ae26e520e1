import test, { type ExecutionContext } from "ava";
import { X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Problem } from "../../src/config/problems.js";
import type { BrokerConfig } from "../../src/config/schema.js";
import { silentLogger } from "../../src/log.js";
import { createDevPki, issueClientCertificate, type DevPki } from "../../src/pki/dev-ca.js";
import { readTlsMaterial, type TlsMaterial } from "../../src/mqtt/tls.js";
import { fileIdentity, TlsWatcher } from "../../src/mqtt/tls-reload.js";
import { tempDir } from "../helpers/tmp.js";

interface Setup {
  pki: DevPki;
  broker: BrokerConfig;
  watcher: TlsWatcher;
  loaded: TlsMaterial[];
  rejected: Problem[][];
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const pki = await createDevPki(join(tempDir(t), "pki"), { clients: ["gateway"] });
  const broker: BrokerConfig = {
    url: "mqtts://localhost:8883",
    caFile: pki.ca.cert,
    certFile: pki.clients.gateway?.cert ?? "",
    keyFile: pki.clients.gateway?.key ?? "",
    tlsReloadCheckMs: 30_000,
    keepAliveSeconds: 20,
    connectTimeoutMs: 10_000,
    reconnectPeriodMs: 2000,
    mqttVersion: "5",
  };
  const read = readTlsMaterial(broker, "config.yaml");
  if (!read.ok) throw new Error(JSON.stringify(read.problems));
  const loaded: TlsMaterial[] = [];
  const rejected: Problem[][] = [];
  const watcher = new TlsWatcher({
    broker,
    configFile: "config.yaml",
    current: read.tls,
    uid: process.getuid?.(),
    onLoaded: (tls) => loaded.push(tls),
    onRejected: (problems) => rejected.push(problems),
    log: silentLogger,
  });
  return { pki, broker, watcher, loaded, rejected };
}

/** Issues a renewed gateway certificate (same CN, same CA) that expires in `days`. */
async function renewal(pki: DevPki, days: number) {
  return issueClientCertificate(pki, "gateway-next", { commonName: "gateway", days });
}

const notAfterOf = (file: string) =>
  new Date(new X509Certificate(readFileSync(file)).validTo).toISOString();

test("fileIdentity changes on rename over the file", async (t) => {
  const { broker, pki } = await setup(t);
  const before = fileIdentity(broker.certFile);
  const next = await renewal(pki, 30);
  renameSync(next.cert, broker.certFile);
  t.not(fileIdentity(broker.certFile), before);
  t.is(fileIdentity(join(pki.dir, "absent.crt")), "missing");
});

test("watcher reports unchanged files as unchanged", async (t) => {
  const { watcher, loaded, rejected } = await setup(t);
  t.is(watcher.check().outcome, "unchanged");
  t.is(watcher.check().outcome, "unchanged");
  t.is(loaded.length, 0);
  t.is(rejected.length, 0);
});

test("watcher waits for the key, then loads the pair", async (t) => {
  const { pki, broker, watcher, loaded, rejected } = await setup(t);
  const next = await renewal(pki, 30);
  const expected = notAfterOf(next.cert);

  // The renewal tool renames the key first: for one check the pair does not match.
  renameSync(next.key, broker.keyFile);
  const waiting = watcher.check();
  t.is(waiting.outcome, "waiting");
  if (waiting.outcome === "waiting") {
    t.true(waiting.problems.some((problem) => problem.path === "broker.keyFile"));
  }
  t.is(loaded.length, 0);

  renameSync(next.cert, broker.certFile);
  const result = watcher.check();
  t.is(result.outcome, "loaded");
  t.is(loaded.length, 1);
  t.is(loaded[0]?.clientCertNotAfter, expected);
  t.is(rejected.length, 0);
  t.is(watcher.check().outcome, "unchanged");
  t.is(loaded.length, 1);
});

test("watcher rejects a mismatched pair once", async (t) => {
  const { pki, broker, watcher, loaded, rejected } = await setup(t);
  const next = await renewal(pki, 30);
  renameSync(next.cert, broker.certFile);

  t.is(watcher.check().outcome, "waiting");
  t.is(rejected.length, 0, "one check later the key may still arrive");
  t.is(watcher.check().outcome, "rejected");
  t.is(watcher.check().outcome, "unchanged", "the same files are reported once");
  t.is(loaded.length, 0);
  t.is(rejected.length, 1);
  const problem = rejected[0]?.find((item) => item.path === "broker.keyFile");
  t.regex(problem?.message ?? "", /is not the private key of/);
});

test("watcher rejects a pair from another CA", async (t) => {
  const { pki, broker, watcher, loaded, rejected } = await setup(t);
  copyFileSync(pki.rogueClient.key, broker.keyFile);
  copyFileSync(pki.rogueClient.cert, broker.certFile);

  t.is(watcher.check().outcome, "waiting");
  t.is(watcher.check().outcome, "rejected");
  t.is(loaded.length, 0);
  const problem = rejected[0]?.find((item) => item.path === "broker.certFile");
  t.regex(problem?.message ?? "", /was not issued by a CA in/);
});

test("watcher rejects a key other users can read", async (t) => {
  const { pki, broker, watcher, loaded, rejected } = await setup(t);
  const next = await renewal(pki, 30);
  chmodSync(next.key, 0o644);
  renameSync(next.key, broker.keyFile);
  renameSync(next.cert, broker.certFile);

  t.is(watcher.check().outcome, "waiting");
  t.is(watcher.check().outcome, "rejected");
  t.is(loaded.length, 0);
  const problem = rejected[0]?.find((item) => item.path === "broker.keyFile");
  t.regex(problem?.message ?? "", /can be read by other users/);
});

test("watcher loads a fixed pair after a rejection", async (t) => {
  const { pki, broker, watcher, loaded, rejected } = await setup(t);
  const next = await renewal(pki, 30);
  renameSync(next.cert, broker.certFile);
  watcher.check();
  t.is(watcher.check().outcome, "rejected");

  renameSync(next.key, broker.keyFile);
  t.is(watcher.check().outcome, "loaded");
  t.is(rejected.length, 1);
  t.is(loaded.length, 1);
});

test("watcher ignores files rewritten with the same bytes", async (t) => {
  const { broker, watcher, loaded } = await setup(t);
  writeFileSync(`${broker.certFile}.new`, readFileSync(broker.certFile));
  renameSync(`${broker.certFile}.new`, broker.certFile);
  t.is(watcher.check().outcome, "unchanged");
  t.is(loaded.length, 0);
});

test("watcher waits while a file is missing", async (t) => {
  const { pki, broker, watcher, loaded } = await setup(t);
  const next = await renewal(pki, 30);
  // Between an unlink and a rename the certificate is briefly absent.
  renameSync(broker.certFile, `${broker.certFile}.old`);
  t.is(watcher.check().outcome, "waiting");
  renameSync(next.key, broker.keyFile);
  renameSync(next.cert, broker.certFile);
  t.is(watcher.check().outcome, "loaded");
  t.is(loaded.length, 1);
});
