/**
 * The audit trail of a running agent against a real mosquitto whose certificates come from
 * another CA than the agent's: each side rejects the other, and the audit file records which.
 */
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../../src/agent.js";
import { formatProblem } from "../../src/config/problems.js";
import { silentLogger } from "../../src/log.js";
import type { AuditPayload } from "../../src/mqtt/payloads.js";
import { createDevPki, type DevPki } from "../../src/pki/dev-ca.js";
import { preflight, type Prepared } from "../../src/preflight.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { tempDir } from "../helpers/tmp.js";

function writeConfig(dir: string, url: string, ca: string, client: { cert: string; key: string }) {
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `site: icu3
gateway: gw-audit
dataDir: ${join(dir, "data")}
broker: { url: "${url}", caFile: ${ca}, certFile: ${client.cert}, keyFile: ${client.key}, reconnectPeriodMs: 200 }
devices:
  - { id: bed1, profile: masimo-radical7-ascii1, link: { kind: serial, path: ${join(dir, "none")} } }
`,
  );
  return file;
}

function auditEvents(dir: string): AuditPayload[] {
  const text = readFileSync(join(dir, "data", "audit.jsonl"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as AuditPayload);
}

async function runUntil(
  file: string,
  dir: string,
  done: (events: AuditPayload[]) => boolean,
  change: (prepared: Prepared) => void = () => undefined,
): Promise<AuditPayload[]> {
  const checked = preflight(file);
  if (!checked.ok) throw new Error(checked.problems.map(formatProblem).join("\n"));
  change(checked.prepared);
  const agent = startAgent(checked.prepared, silentLogger);
  try {
    const deadline = Date.now() + 15_000;
    while (!done(auditEvents(dir)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await agent.stop();
  }
  return auditEvents(dir);
}

let broker: Mosquitto | undefined;
let brokerPki: DevPki;
let otherPki: DevPki;
const sharedDirs: string[] = [];

// One broker serves the file. Its folder must be a fresh one of its own, as the helper requires.
test.before(async () => {
  const makeDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    sharedDirs.push(dir);
    return dir;
  };
  const pkiDir = makeDir("iomt-gateway-audit-pki-");
  brokerPki = await createDevPki(join(pkiDir, "broker"), { clients: ["gateway"] });
  otherPki = await createDevPki(join(pkiDir, "other"), { clients: ["gateway"] });
  broker = await startMosquitto({ pki: brokerPki, dir: makeDir("iomt-gateway-audit-broker-") });
});

test.after.always(async () => {
  await broker?.stop();
  for (const dir of sharedDirs) rmSync(dir, { recursive: true, force: true });
});

function url(): string {
  if (broker === undefined) throw new Error("the broker did not start");
  return broker.url;
}

test("broker certificate from another CA is audited", async (t) => {
  const dir = tempDir(t);
  const client = otherPki.clients.gateway;
  if (client === undefined) return t.fail("no client");
  const file = writeConfig(dir, url(), otherPki.ca.cert, client);
  const events = await runUntil(file, dir, (list) =>
    list.some((event) => event.event === "certificate-rejected"),
  );
  const rejected = events.find((event) => event.event === "certificate-rejected");
  t.truthy(rejected, events.map((event) => event.event).join(", "));
  t.is(rejected?.severity, "warning");
  t.is(rejected?.details.peer, url());
  const started = events.find((event) => event.event === "certificate-loaded");
  t.regex(String(started?.details.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.is(events.at(-1)?.event, "agent-stopped");
  const text = readFileSync(join(dir, "data", "audit.jsonl"), "utf8");
  t.false(text.includes("PRIVATE KEY"), "no key material");
});

test("client certificate rejected by the broker is audited", async (t) => {
  const dir = tempDir(t);
  const client = otherPki.clients.gateway;
  if (client === undefined) return t.fail("no client");
  // The agent trusts the broker and starts with a valid certificate; then its certificate is
  // swapped for one of a CA the broker does not trust, as after the site moved to a new CA.
  const valid = brokerPki.clients.gateway;
  if (valid === undefined) return t.fail("no client");
  const file = writeConfig(dir, url(), brokerPki.ca.cert, valid);
  const swap = (prepared: Prepared) => {
    prepared.tls.cert = readFileSync(client.cert);
    prepared.tls.key = readFileSync(client.key);
  };
  const events = await runUntil(
    file,
    dir,
    (list) => list.some((event) => event.event === "tls-handshake-failed"),
    swap,
  );
  const failed = events.find((event) => event.event === "tls-handshake-failed");
  t.truthy(
    failed,
    events.map((event) => `${event.event} ${JSON.stringify(event.details)}`).join("\n"),
  );
  t.regex(String(failed?.details.code), /^ERR_SSL_/);
});
