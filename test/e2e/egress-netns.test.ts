/**
 * The allowlist on real network namespaces made by this test: a "gateway" namespace where the
 * agent runs and applies its firewall, a "broker" namespace with mosquitto (mTLS), and an
 * "elsewhere" namespace with a listener the allowlist does not name. Addresses are private
 * (10.77.1.0/24 and 10.77.2.0/24) and exist only inside these namespaces.
 */
import test, { type ExecutionContext } from "ava";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nftPath } from "../../src/egress/firewall.js";
import { createDevPki, type DevPki } from "../../src/pki/dev-ca.js";
import { watchChild, type WatchedChild } from "../../src/simulate/child-process.js";
import { repoRoot } from "../helpers/agent-process.js";
import { startMosquitto } from "../helpers/mosquitto.js";
import { announceSkip, networkPrivilegeProblem } from "../helpers/privileges.js";
import { tempDir } from "../helpers/tmp.js";

const brokerName = "broker.iomt.test";
const brokerAddress = "10.77.1.2";
const elsewhereAddress = "10.77.2.2";
const elsewherePort = 4001;
/** A device server name the gateway cannot resolve, so the agent itself denies it. */
const unresolvedName = "moxa.iomt.test";

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr.trim()}`);
}

/** Returns why namespaces cannot be made here, or undefined. */
function namespaceProblem(): string | undefined {
  const problem = networkPrivilegeProblem();
  if (problem !== undefined) return problem;
  const name = `iomt-probe-${process.pid}`;
  const added = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (added.status !== 0) return `ip netns add failed: ${added.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", name]);
  return undefined;
}

interface Namespaces {
  gateway: string;
  broker: string;
  elsewhere: string;
}

/** Makes the three namespaces and their links; the teardown deletes them, also on failure. */
function makeNamespaces(t: ExecutionContext): Namespaces {
  const id = `${process.pid.toString(36)}${randomBytes(2).toString("hex")}`;
  const names = { gateway: `iomt-${id}-gw`, broker: `iomt-${id}-br`, elsewhere: `iomt-${id}-ex` };
  const etcNetnsExisted = existsSync("/etc/netns");
  t.teardown(() => {
    for (const name of Object.values(names)) {
      spawnSync("ip", ["netns", "del", name]);
      rmSync(join("/etc/netns", name), { recursive: true, force: true });
    }
    if (!etcNetnsExisted) rmSync("/etc/netns", { recursive: true, force: true });
  });
  for (const name of Object.values(names)) {
    ip("netns", "add", name);
    ip("-n", name, "link", "set", "lo", "up");
  }
  const link = (peer: string, subnet: number) => {
    ip(
      "link",
      "add",
      "gw0",
      "netns",
      names.gateway,
      "type",
      "veth",
      "peer",
      "name",
      "peer0",
      "netns",
      peer,
    );
    ip("-n", names.gateway, "link", "set", "gw0", "name", `gw${subnet}`);
    ip("-n", names.gateway, "addr", "add", `10.77.${subnet}.1/24`, "dev", `gw${subnet}`);
    ip("-n", peer, "addr", "add", `10.77.${subnet}.2/24`, "dev", "peer0");
    ip("-n", names.gateway, "link", "set", `gw${subnet}`, "up");
    ip("-n", peer, "link", "set", "peer0", "up");
  };
  link(names.broker, 1);
  link(names.elsewhere, 2);
  // `ip netns exec` mounts /etc/netns/<name>/hosts over /etc/hosts for the processes it runs,
  // so the broker's name resolves in the gateway namespace only.
  mkdirSync(join("/etc/netns", names.gateway), { recursive: true });
  writeFileSync(
    join("/etc/netns", names.gateway, "hosts"),
    `127.0.0.1 localhost\n${brokerAddress} ${brokerName}\n`,
  );
  // Nothing listens on port 53 in the namespace, so any other name fails at once, locally.
  writeFileSync(
    join("/etc/netns", names.gateway, "resolv.conf"),
    "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
  );
  return names;
}

function startIn(t: ExecutionContext, netns: string, command: string[]): WatchedChild {
  const child = spawn("ip", ["netns", "exec", netns, ...command], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const watched = watchChild(child);
  t.teardown(() => watched.stop());
  return watched;
}

/** Tries a TCP connection from `netns`; resolves with "connected", "timeout" or an error code. */
function tryConnect(netns: string, host: string, port: number): string {
  const script =
    `const s = require("net").connect({ host: "${host}", port: ${port} });` +
    `s.setTimeout(1500, () => { console.log("timeout"); process.exit(0); });` +
    `s.on("connect", () => { console.log("connected"); process.exit(0); });` +
    `s.on("error", (e) => { console.log(e.code); process.exit(0); });`;
  const result = spawnSync("ip", ["netns", "exec", netns, process.execPath, "-e", script], {
    encoding: "utf8",
  });
  return result.stdout.trim();
}

async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  detail: () => string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function agentConfig(dir: string, pki: DevPki): string {
  const gateway = pki.clients.gateway;
  if (gateway === undefined) throw new Error("no gateway client in the PKI");
  return `site: netns
gateway: gw1
dataDir: ${join(dir, "data")}
log: { level: info, format: json }
broker:
  url: mqtts://${brokerName}:8883
  caFile: ${pki.ca.cert}
  certFile: ${gateway.cert}
  keyFile: ${gateway.key}
  reconnectPeriodMs: 500
health: { intervalMs: 2000 }
egress:
  allowlist:
    - { host: ${brokerName}, port: 8883, purpose: broker }
    - { host: ${unresolvedName}, port: ${elsewherePort}, purpose: device-server }
  firewall: { manage: true, counterPollMs: 1000 }
reconnect: { initialDelayMs: 200, maxDelayMs: 1000 }
devices:
  - id: bed1
    profile: masimo-radical7-ascii1
    link: { kind: serial, path: ${join(dir, "no-such-port")} }
  - id: bed2
    profile: masimo-radical7-ascii1
    link: { kind: tcp, host: ${unresolvedName}, port: ${elsewherePort} }
`;
}

interface Message {
  topic: string;
  payload: Record<string, unknown>;
}

function messagesOf(output: string): Message[] {
  return output.split("\n").flatMap((line) => {
    const space = line.indexOf(" ");
    if (space < 0) return [];
    try {
      return [
        {
          topic: line.slice(0, space),
          payload: JSON.parse(line.slice(space + 1)) as Record<string, unknown>,
        },
      ];
    } catch {
      return [];
    }
  });
}

/** Matches an egress-denied audit record made by the agent or counted by the firewall. */
function deniedBy(by: "agent" | "firewall") {
  return (message: Message) =>
    message.payload.event === "egress-denied" &&
    (message.payload.details as { by?: unknown }).by === by;
}

const problem = namespaceProblem();
const title = "agent publishes to its broker while the firewall blocks elsewhere";
if (problem === undefined) {
  test(title, async (t) => {
    const dir = tempDir(t);
    const ns = makeNamespaces(t);
    const pki = await createDevPki(join(dir, "pki"), {
      clients: ["gateway", "subscriber"],
      serverNames: [brokerName, brokerAddress],
    });
    const broker = await startMosquitto({
      pki,
      dir: tempDir(t, "iomt-gateway-broker-"),
      netns: { name: ns.broker, address: brokerAddress, port: 8883 },
    });
    t.teardown(() => broker.stop());

    const subscriberIdentity = pki.clients.subscriber;
    if (subscriberIdentity === undefined) return t.fail("no subscriber client");
    const subscriber = startIn(t, ns.broker, [
      "mosquitto_sub",
      "-h",
      brokerAddress,
      "-p",
      "8883",
      "--cafile",
      pki.ca.cert,
      "--cert",
      subscriberIdentity.cert,
      "--key",
      subscriberIdentity.key,
      "-t",
      "iomt/v1/netns/gw1/#",
      "-v",
      "-V",
      "mqttv5",
    ]);
    const listener = startIn(t, ns.elsewhere, [
      process.execPath,
      "-e",
      `require("net").createServer((s) => { console.log("accepted"); s.end(); })` +
        `.listen(${elsewherePort}, "${elsewhereAddress}", () => console.log("listening"));`,
    ]);
    await waitFor(
      "the listener elsewhere",
      () => listener.output().includes("listening"),
      10_000,
      () => listener.output(),
    );
    t.is(
      tryConnect(ns.gateway, elsewhereAddress, elsewherePort),
      "connected",
      "reachable before the firewall",
    );

    const configFile = join(dir, "config.yaml");
    writeFileSync(configFile, agentConfig(dir, pki));
    const agent = startIn(t, ns.gateway, [
      process.execPath,
      "--import",
      "tsx",
      join(repoRoot, "src", "cli", "main.ts"),
      "run",
      "--config",
      configFile,
    ]);
    // Every line the subscriber printed: its watched output keeps only a tail, which the burst
    // of audit records sent at the first connection can push the gateway state out of.
    let subscriberText = "";
    subscriber.child.stdout?.on("data", (chunk: Buffer) => (subscriberText += chunk.toString()));
    const received = () => messagesOf(subscriberText);
    const details = () => `agent:\n${agent.output()}\nsubscriber:\n${subscriber.output()}`;
    await waitFor(
      "the agent online at the broker",
      () => received().some((m) => m.topic.endsWith("/state") && m.payload.state === "online"),
      20_000,
      details,
    );
    // Audit records go through the outbox, so they arrive after its commit window.
    await waitFor(
      "the firewall-applied audit record",
      () =>
        received().some(
          (m) => m.topic.endsWith("/audit") && m.payload.event === "firewall-applied",
        ),
      10_000,
      details,
    );

    const listenerAccepted = listener.output().split("accepted").length - 1;
    t.is(
      tryConnect(ns.gateway, elsewhereAddress, elsewherePort),
      "timeout",
      "dropped by the firewall",
    );
    t.is(listener.output().split("accepted").length - 1, listenerAccepted, "no connection arrived");

    const counters = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        ns.gateway,
        nftPath(),
        "-j",
        "list",
        "counters",
        "table",
        "inet",
        "iomt_gateway",
      ],
      { encoding: "utf8" },
    );
    const egressDenied =
      (
        JSON.parse(counters.stdout) as {
          nftables: { counter?: { name: string; packets: number } }[];
        }
      ).nftables.find((item) => item.counter?.name === "egress_denied")?.counter?.packets ?? 0;
    t.true(egressDenied >= 1, `egress_denied counted ${egressDenied} packets`);

    await waitFor(
      "the firewall's denial in the audit trail",
      () => received().some(deniedBy("firewall")),
      10_000,
      details,
    );
    await waitFor(
      "the agent's own denial in the audit trail",
      () => received().some(deniedBy("agent")),
      10_000,
      details,
    );
    const agentDenial = received().find(deniedBy("agent"));
    t.is(
      (agentDenial?.payload.details as { destination?: string }).destination,
      `${unresolvedName}:${elsewherePort}/tcp`,
    );
    t.true(received().some((m) => m.payload.event === "allowlist-resolve-failed"));
    const auditFile = readFileSync(join(dir, "data", "audit.jsonl"), "utf8");
    t.regex(auditFile, /"event":"egress-denied"/, "also in the audit file on the gateway");
    // Connections open only once the table is loaded, so the first device link attempt (which
    // the agent denies) comes after firewall-applied.
    const applyIndex = auditFile.indexOf('"event":"firewall-applied"');
    const firstAgentDenial = auditFile.search(/"event":"egress-denied"[^\n]*"by":"agent"/);
    t.true(applyIndex >= 0, "firewall-applied in the audit file");
    t.true(firstAgentDenial > applyIndex, "the first connection attempt after the apply");
    await waitFor(
      "health with the firewall applied",
      () =>
        received().some(
          (m) =>
            m.topic.endsWith("/health") &&
            (m.payload.egress as { firewall?: { applied?: boolean } } | undefined)?.firewall
              ?.applied === true,
        ),
      10_000,
      details,
    );
    await agent.stop();
  });
} else {
  announceSkip("network namespace test of the egress allowlist", problem);
  test.skip(`${title} (skipped: ${problem})`, (t) => t.pass());
}
