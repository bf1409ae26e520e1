import test from "ava";
import { readFileSync } from "node:fs";
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
function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
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
    connected: () => true,
    log: silentLogger,
  });
  const config = configSchema.parse({
    site: "s",
    gateway: "g",
    dataDir: dir,
    broker: { url: "mqtts://broker.iomt.test:8883", caFile: "a", certFile: "b", keyFile: "c" },
    devices: [{ id: "bed1", profile: "p", link: { kind: "serial", path: "/dev/ttyUSB0" } }],
    egress: {
      allowlist: [{ host: "broker.iomt.test", port: 8883, purpose: "broker" }],
      firewall: { manage: true, counterPollMs: 3_600_000 },
    },
  });
  const answers = { current: ["10.1.1.1"] };
  const applied: string[] = [];
  const counters = { out: 0 };
  const nft: RunNft = (args, input) => {
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
  return { controller, answers, applied, counters, events };
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
