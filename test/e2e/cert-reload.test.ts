/**
 * Certificate renewal while a device streams: the agent checks its TLS files every 200 ms,
 * reconnects to a real mosquitto with mutual TLS using a renewed pair, and keeps its old
 * certificate when the new files fail a check. The broker takes each client certificate's CN as
 * the MQTT user name and logs it with every connection, which shows the certificate it saw.
 */
import test, { type ExecutionContext } from "ava";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, renameSync } from "node:fs";
import type { AuditPayload, HealthPayload } from "../../src/mqtt/payloads.js";
import { issueClientCertificate } from "../../src/pki/dev-ca.js";
import { cliCommand, type AgentProcess } from "../helpers/agent-process.js";
import type { ReceivedMessage } from "../helpers/subscriber.js";
import {
  buildWorld,
  expectNoGap,
  keepWriting,
  masimoLine,
  masimoSeqs,
  observationsOf,
  payloadOf,
  prefix,
  startAgentIn,
  type World,
} from "./scenario.js";

const clientId = "iomt-icu3-gw-test";

/** Runs the agent with a fast check interval and waits for its first observations. */
async function streamingAgent(t: ExecutionContext): Promise<{ world: World; agent: AgentProcess }> {
  const world = await buildWorld(t, { brokerSettings: "  tlsReloadCheckMs: 200" });
  const agent = startAgentIn(t, world, cliCommand("source"));
  t.teardown(keepWriting(world.masimoDevice, () => masimoLine("097", "072"), 100));
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 3);
  return { world, agent };
}

/** Reads the MQTT user names (certificate CNs) of the agent's connections from the broker's log. */
function brokerUsers(world: World): string[] {
  const log = readFileSync(world.broker.logFile, "utf8");
  const pattern = new RegExp(
    `New client connected from \\S+ as ${clientId} \\(.*u'([^']+)'\\)`,
    "g",
  );
  return [...log.matchAll(pattern)].map((match) => match[1] ?? "");
}

async function waitForOutput(agent: AgentProcess, pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(agent.output())) {
    if (Date.now() > deadline) throw new Error(`agent did not log ${pattern} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const auditOf = (event: AuditPayload["event"]) => (message: ReceivedMessage) =>
  message.topic === `${prefix}/audit` && payloadOf<AuditPayload>(message).event === event;

const healthOf = (message: ReceivedMessage) => message.topic === `${prefix}/health`;

/** Waits until `count` more Masimo observations arrived than now. */
async function moreObservations(world: World, count: number) {
  const now = world.subscriber.messages.filter(observationsOf("bed12-spo2")).length;
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 10_000, now + count);
}

test("renewed pair is used without a seq gap", async (t) => {
  const { world } = await streamingAgent(t);
  const gateway = world.pki.clients.gateway;
  if (gateway === undefined) return t.fail("the dev PKI has no gateway client");
  t.deepEqual(brokerUsers(world), ["gateway"]);

  // A different CN makes the renewed certificate visible in the broker's log.
  const next = await issueClientCertificate(world.pki, "gateway-renewed", { days: 30 });
  const renewed = new X509Certificate(readFileSync(next.cert));
  const notAfter = new Date(renewed.validTo).toISOString();
  renameSync(next.key, gateway.key);
  renameSync(next.cert, gateway.cert);

  const [health] = await world.subscriber.waitFor(
    (m) => healthOf(m) && payloadOf<HealthPayload>(m).certificates.clientCertNotAfter === notAfter,
    15_000,
  );
  t.true((payloadOf<HealthPayload>(health).certificates.clientCertDaysLeft ?? 0) <= 30);
  const [reloaded] = await world.subscriber.waitFor(
    (m) => auditOf("certificate-loaded")(m) && payloadOf<AuditPayload>(m).text.includes("reloaded"),
    10_000,
  );
  const details = payloadOf<AuditPayload>(reloaded).details;
  t.is(details.fingerprint256, renewed.fingerprint256);
  t.is(details.notAfter, notAfter);

  await moreObservations(world, 5);
  t.deepEqual(brokerUsers(world), ["gateway", "gateway-renewed"]);
  const seqs = masimoSeqs(world.subscriber.messages);
  t.true(seqs.length >= 8, `observations before and after: ${seqs.length}`);
  expectNoGap(t, seqs);
  const offline = world.subscriber.messages.filter(
    (m) => m.topic === `${prefix}/state` && (m.payload as { state?: string }).state === "offline",
  );
  t.is(offline.length, 0, "a DISCONNECT, not a dropped connection, so no last will");
});

test("invalid renewal keeps the old certificate", async (t) => {
  const { world, agent } = await streamingAgent(t);
  const gateway = world.pki.clients.gateway;
  if (gateway === undefined) return t.fail("the dev PKI has no gateway client");
  const [firstHealth] = await world.subscriber.waitFor(healthOf, 10_000);
  const notAfter = payloadOf<HealthPayload>(firstHealth).certificates.clientCertNotAfter;

  // A certificate from the same CA that does not match the key.
  const other = await issueClientCertificate(world.pki, "other", { commonName: "gateway" });
  copyFileSync(other.cert, gateway.cert);
  await waitForOutput(agent, /new broker TLS files rejected.*is not the private key of/, 10_000);
  const [rejected] = await world.subscriber.waitFor(auditOf("certificate-rejected"), 10_000);
  const details = payloadOf<AuditPayload>(rejected).details;
  t.deepEqual(details.files, ["broker.keyFile"]);
  await moreObservations(world, 3);

  // A pair that matches but comes from a CA the broker does not trust.
  copyFileSync(world.pki.rogueClient.key, gateway.key);
  copyFileSync(world.pki.rogueClient.cert, gateway.cert);
  await waitForOutput(agent, /new broker TLS files rejected.*was not issued by a CA in/, 10_000);
  await world.subscriber.waitFor(auditOf("certificate-rejected"), 10_000, 2);
  await moreObservations(world, 3);

  t.deepEqual(brokerUsers(world), ["gateway"], "no reconnect with rejected files");
  t.notRegex(agent.output(), /reconnecting to the broker with new TLS material/);
  const health = world.subscriber.messages.filter(healthOf).at(-1);
  t.is(payloadOf<HealthPayload>(health).certificates.clientCertNotAfter, notAfter);
  expectNoGap(t, masimoSeqs(world.subscriber.messages));
});
