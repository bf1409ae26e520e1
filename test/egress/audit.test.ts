import test from "ava";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { AuditFile } from "../../src/audit/file.js";
import { auditConnectError } from "../../src/audit/events.js";
import { AuditTrail, auditStreamId } from "../../src/audit/trail.js";
import { silentLogger } from "../../src/log.js";
import { auditPayload } from "../../src/mqtt/payloads.js";
import { Outbox } from "../../src/outbox/outbox.js";
import { tempDir } from "../helpers/tmp.js";

function openOutbox(file: string, maxBytes = 1 << 20): Outbox {
  return new Outbox(
    { file, maxBytes, maxAgeMs: 3_600_000, whenFull: "drop-oldest", flushIntervalMs: 10_000 },
    silentLogger,
  );
}

function trail(dir: string, outbox: Outbox, maxFileBytes = 1 << 20): AuditTrail {
  return new AuditTrail({
    file: new AuditFile({ dir, maxFileBytes, keepFiles: 2 }),
    outbox,
    topic: "iomt/v1/s/g/audit",
    sessionId: "session-1",
    away: () => true,
    log: silentLogger,
  });
}

test("audit record goes to the file and the outbox", (t) => {
  const dir = tempDir(t);
  const outbox = openOutbox(join(dir, "o.sqlite"));
  t.teardown(() => outbox.close());
  const audit = trail(dir, outbox);
  audit.record("config-loaded", "info", "configuration loaded", {
    file: "/etc/c.yaml",
    sha256: "ab",
  });
  outbox.flush();
  const line = readFileSync(join(dir, "audit.jsonl"), "utf8").trim();
  const [stored] = outbox.readAfter(0, 10);
  t.is(stored?.topic, "iomt/v1/s/g/audit");
  t.is(stored?.body, line, "the file and the outbox hold the same record");
  t.true(stored?.offline, "made while the broker was away");
  const parsed = auditPayload.safeParse({ replayed: false, ...(JSON.parse(line) as object) });
  t.true(parsed.success, parsed.error?.message);
  t.is(parsed.data?.seq, 1);
});

test("audit file rotates by size and keeps keepFiles", (t) => {
  const dir = tempDir(t);
  const outbox = openOutbox(join(dir, "o.sqlite"));
  t.teardown(() => outbox.close());
  const audit = trail(dir, outbox, 4096);
  for (let index = 0; index < 100; index++) {
    audit.record("egress-denied", "warning", "denied", { index, pad: "x".repeat(100) });
  }
  audit.close();
  const files = readdirSync(dir)
    .filter((name) => name.startsWith("audit.jsonl"))
    .sort();
  t.deepEqual(files, ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
  for (const name of files) {
    const text = readFileSync(join(dir, name), "utf8");
    t.true(Buffer.byteLength(text) <= 4096, `${name} is within maxFileBytes`);
    for (const line of text.trim().split("\n")) t.notThrows(() => JSON.parse(line) as unknown);
  }
  const last = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").at(-1) ?? "{}";
  t.is((JSON.parse(last) as { details: { index: number } }).details.index, 99);
});

test("repeated events are recorded once a minute with a count", (t) => {
  const dir = tempDir(t);
  const outbox = openOutbox(join(dir, "o.sqlite"));
  t.teardown(() => outbox.close());
  const audit = trail(dir, outbox);
  for (let index = 0; index < 5; index++) {
    audit.recordRepeated("tls:x", "tls-handshake-failed", "warning", "handshake failed");
  }
  audit.close();
  const lines = readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n");
  t.is(lines.length, 1);
});

test("full outbox drops observations before audit records", (t) => {
  const dir = tempDir(t);
  const outbox = openOutbox(join(dir, "o.sqlite"), 65_536);
  t.teardown(() => outbox.close());
  const audit = trail(dir, outbox);
  // The audit stream contains the most bytes, and is still not the one that loses records.
  for (let index = 0; index < 80; index++) {
    audit.record("egress-denied", "warning", "denied", { pad: "y".repeat(500) });
  }
  for (const device of ["bed1", "bed2"]) {
    for (let index = 0; index < 60; index++) {
      const seq = outbox.takeSeq(device);
      const body = JSON.stringify({ seq, pad: "x".repeat(300) });
      const topic = `t/${device}/obs`;
      outbox.append({ deviceId: device, seq, topic, body, createdMs: Date.now(), offline: true });
    }
  }
  outbox.flush();
  const left = outbox.readAfter(0, 10_000);
  const audited = left.filter((record) => record.deviceId === auditStreamId).length;
  t.is(audited, 80, "every audit record is kept");
  t.true(outbox.stats().droppedRecords > 0, "observations were dropped");
});

test("rejected broker certificate leaves out the system CA advice", (t) => {
  const dir = tempDir(t);
  const outbox = openOutbox(join(dir, "o.sqlite"));
  t.teardown(() => outbox.close());
  const error = Object.assign(
    new Error(
      "self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca",
    ),
    { code: "DEPTH_ZERO_SELF_SIGNED_CERT" },
  );
  auditConnectError(trail(dir, outbox), error, "mqtts://localhost:8883");
  const [record] = readFileSync(join(dir, "audit.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { event: string; details: Record<string, unknown> });
  t.is(record?.event, "certificate-rejected");
  t.is(record?.details.error, "self-signed certificate");
  t.is(record?.details.code, "DEPTH_ZERO_SELF_SIGNED_CERT");
});
