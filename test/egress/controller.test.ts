import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditFile } from "../../src/audit/file.js";
import { AuditTrail } from "../../src/audit/trail.js";
import { configSchema } from "../../src/config/schema.js";
import { EgressController } from "../../src/egress/controller.js";
import type { RunNft } from "../../src/egress/firewall.js";
import { silentLogger } from "../../src/log.js";
import type { AuditPayload } from "../../src/mqtt/payloads.js";
import { Outbox } from "../../src/outbox/outbox.js";
import { tempDir } from "../helpers/tmp.js";

/** Creates a controller of a managed firewall, with a fake resolver and a fake nft. */
function setup(t: Parameters<typeof tempDir>[0], resolvers = "nameserver 10.1.1.53\n") {
  const dir = tempDir(t);
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, resolvers);
  const outbox = new Outbox(
    {
      file: join(dir, "o.sqlite"),
      maxBytes: 1 << 20,
      maxAgeMs: 3_600_000,
      whenFull: "drop-oldest",
      flushIntervalMs: 10_000,
    },
    silentLogger,
  );
  t.teardown(() => outbox.close());
  const audit = new AuditTrail({
    file: new AuditFile({ dir, maxFileBytes: 1 << 20, keepFiles: 1 }),
    outbox,
    topic: "t/audit",
    sessionId: "s",
    away: () => false,
    log: silentLogger,
  });
  const config = configSchema.parse({
    site: "s",
    gateway: "g",
    dataDir: dir,
    broker: { url: "mqtts://broker.iomt.test:8883", caFile: "a", certFile: "b", keyFile: "c" },
    devices: [{ id: "bed1", profile: "p", link: { kind: "serial", path: "/dev/ttyUSB0" } }],
    egress: {
      allowlist: [
        { host: "broker.iomt.test", port: 8883, purpose: "broker" },
        { host: "10.1.1.53", port: 53, protocol: "udp", purpose: "dns" },
      ],
      firewall: { manage: true, counterPollMs: 3_600_000, resolvConf },
    },
  });
  const answers = { current: ["10.1.1.1"] };
  const applied: string[] = [];
  const counters = { out: 0 };
  /** What nft -f returns; code 0 applies the ruleset. */
  const nftApply = { code: 0, stderr: "" };
  const nft: RunNft = (args, input) => {
    if (args[0] === "-f" && nftApply.code !== 0) {
      return Promise.resolve({ code: nftApply.code, stdout: "", stderr: nftApply.stderr });
    }
    if (args[0] === "-f") applied.push(input ?? "");
    if (args[0] === "-f") counters.out = 0;
    const stdout = JSON.stringify({
      nftables: [{ counter: { name: "egress_denied", packets: counters.out } }],
    });
    return Promise.resolve({ code: 0, stdout, stderr: "" });
  };
  const controller = new EgressController({
    config,
    configFile: "config.yaml",
    audit,
    log: silentLogger,
    lookup: () => Promise.resolve(answers.current),
    nft,
  });
  t.teardown(() => controller.stop());
  const events = () =>
    readFileSync(join(dir, "audit.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditPayload);
  return { controller, answers, applied, counters, nftApply, events };
}

test("address change is audited and re-applied", async (t) => {
  const { controller, answers, applied, events } = setup(t);
  await controller.start();
  t.is(applied.length, 1, "applied once at start");
  t.regex(applied[0] ?? "", /ip daddr 10\.1\.1\.1 tcp dport 8883 accept/);
  t.true(controller.health().firewall.applied);

  answers.current = ["10.1.1.7"];
  await controller.refreshNow();
  t.is(applied.length, 2);
  t.regex(applied[1] ?? "", /ip daddr 10\.1\.1\.7 tcp dport 8883 accept/);
  t.notRegex(applied[1] ?? "", /10\.1\.1\.1 /);
  const changed = events().find((event) => event.event === "allowlist-changed");
  t.deepEqual(changed?.details.before, ["10.1.1.1"]);
  t.deepEqual(changed?.details.after, ["10.1.1.7"]);
  t.is(changed?.severity, "warning");
  t.is(events().filter((event) => event.event === "firewall-applied").length, 2);
});

test("firewall drops are audited across a re-apply", async (t) => {
  const { controller, answers, counters, events } = setup(t);
  await controller.start();
  counters.out = 5;
  await controller.pollCounters();
  counters.out = 7;
  answers.current = ["10.1.1.8"];
  // The re-apply zeroes the nft counter, and the two packets counted before it still count.
  await controller.refreshNow();
  counters.out = 1;
  await controller.pollCounters();
  const drops = events()
    .filter((event) => event.event === "egress-denied")
    .map((event) => event.details.packets);
  t.deepEqual(drops, [5, 2, 1]);
  t.is(controller.health().firewall.droppedOutPackets, 8);
});

test("firewall is applied before connections open", async (t) => {
  const { controller, applied } = setup(t);
  const appliedWhenConnecting: number[] = [];
  await controller.start(() => appliedWhenConnecting.push(applied.length));
  t.deepEqual(appliedWhenConnecting, [1]);
});

test("failed first apply rejects start", async (t) => {
  const { controller, nftApply, events } = setup(t);
  nftApply.code = 1;
  nftApply.stderr = "Error: Could not process rule: Operation not permitted";
  let connected = false;
  const error = await t.throwsAsync(controller.start(() => (connected = true)));
  t.regex(error?.message ?? "", /EGRESS_FIREWALL_FAILED: nft -f could not change the firewall/);
  t.regex(error?.message ?? "", /CAP_NET_ADMIN/);
  t.false(connected);
  t.false(controller.health().firewall.applied);
  const failed = events().find((event) => event.event === "firewall-failed");
  t.is(failed?.severity, "error");
  t.is(failed?.details.previouslyApplied, false);
});

test("failed re-apply keeps the applied ruleset", async (t) => {
  const { controller, answers, nftApply, events } = setup(t);
  await controller.start();
  nftApply.code = 1;
  nftApply.stderr = "/dev/stdin:12:3-9: Error: syntax error";
  answers.current = ["10.1.1.9"];
  await controller.refreshNow();
  const health = controller.health().firewall;
  t.true(health.applied);
  t.regex(health.reason, /the last apply failed, so the host keeps the ruleset applied at/);
  const failed = events().find((event) => event.event === "firewall-failed");
  t.is(failed?.severity, "error");
  t.is(failed?.details.previouslyApplied, true);
});

test("start rejects a firewall that blocks the resolver", async (t) => {
  const { controller, applied } = setup(t, "nameserver 10.9.9.9\n");
  const error = await t.throwsAsync(controller.start());
  t.regex(error?.message ?? "", /EGRESS_FIREWALL_UNSAFE: .*resolver 10\.9\.9\.9/);
  t.regex(
    error?.message ?? "",
    /add \{ host: 10\.9\.9\.9, port: 53, protocol: udp, purpose: dns \}/,
  );
  t.is(applied.length, 0);
});

test("single dropped packet is worded singular", async (t) => {
  const { controller, counters, events } = setup(t);
  await controller.start();
  counters.out = 1;
  await controller.pollCounters();
  const drop = events().find((event) => event.event === "egress-denied");
  t.is(drop?.text, "the firewall dropped 1 outbound packet");
});
