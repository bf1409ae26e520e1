import test from "ava";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { silentLogger } from "../src/log.js";
import { Outbox, seqBlock, type DropNotice, type OutboxOptions } from "../src/outbox/outbox.js";
import { repoRoot } from "./helpers/agent-process.js";
import { tempDir } from "./helpers/tmp.js";

function open(file: string, overrides: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox(
    {
      file,
      maxBytes: 1 << 20,
      maxAgeMs: 3_600_000,
      whenFull: "drop-oldest",
      flushIntervalMs: 10_000,
      ...overrides,
    },
    silentLogger,
  );
}

function add(outbox: Outbox, deviceId: string, bodyBytes = 100, createdMs = Date.now()): number {
  const seq = outbox.takeSeq(deviceId);
  const body = JSON.stringify({ seq, pad: "x".repeat(bodyBytes) });
  outbox.append({ deviceId, seq, topic: `t/${deviceId}`, body, createdMs, offline: false });
  return seq;
}

test("records are readable before their commit", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"));
  t.teardown(() => outbox.close());
  add(outbox, "a");
  outbox.flush();
  add(outbox, "a");
  const records = outbox.readAfter(0, 10);
  t.deepEqual(
    records.map((r) => r.seq),
    [1, 2],
    "the committed record, then the pending one",
  );
  t.deepEqual(
    outbox.readAfter(records[0]?.id ?? 0, 10).map((r) => r.seq),
    [2],
  );
});

test("appends are announced once per turn", async (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"));
  t.teardown(() => outbox.close());
  let calls = 0;
  outbox.onAppend(() => calls++);
  add(outbox, "a");
  add(outbox, "a");
  t.is(calls, 0, "not during the appends");
  await Promise.resolve();
  t.is(calls, 1);
});

test("record acknowledged before its commit is never written", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const outbox = open(file);
  add(outbox, "a");
  add(outbox, "a");
  const [first] = outbox.readAfter(0, 10);
  if (first === undefined) return t.fail();
  outbox.acknowledge(first);
  t.deepEqual(
    outbox.readAfter(0, 10).map((r) => r.seq),
    [2],
    "hidden at once",
  );
  t.is(outbox.stats().records, 1);
  outbox.close();
  const db = new DatabaseSync(file, { readOnly: true });
  t.teardown(() => db.close());
  const rows = db.prepare("SELECT seq FROM records").all();
  t.deepEqual(
    rows.map((row) => Number(row.seq)),
    [2],
  );
});

test("window waits for records in flight", async (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const outbox = open(file, { flushIntervalMs: 20 });
  add(outbox, "a");
  const [record] = outbox.readAfter(0, 10);
  if (record === undefined) return t.fail();
  // Timers fire in the order they expire: the window (20 ms) waits for acknowledgements for
  // 100 ms, so this acknowledgement (40 ms) comes first.
  await new Promise((resolve) => setTimeout(resolve, 40));
  outbox.acknowledge(record);
  await new Promise((resolve) => setTimeout(resolve, 150));
  outbox.close();
  const db = new DatabaseSync(file, { readOnly: true });
  t.teardown(() => db.close());
  const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'records'").get();
  t.is(row, undefined, "the record was never inserted");
});

test("window commits records not yet sent", async (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const outbox = open(file, { flushIntervalMs: 20 });
  add(outbox, "a");
  await new Promise((resolve) => setTimeout(resolve, 60));
  outbox.close();
  const reopened = open(file);
  t.teardown(() => reopened.close());
  t.is(reopened.stats().records, 1, "committed by the window");
});

test("acknowledged record leaves counts before commit", async (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const outbox = open(file, { flushIntervalMs: 20 });
  add(outbox, "a");
  await new Promise((resolve) => setTimeout(resolve, 60));
  const [record] = outbox.readAfter(0, 10);
  if (record === undefined) return t.fail();
  t.is(typeof outbox.stats().oldestAgeMs, "number");
  outbox.acknowledge(record);
  t.is(outbox.stats().records, 0);
  t.is(outbox.stats().bytes, 0);
  t.is(outbox.stats().oldestAgeMs, null);
  outbox.close();
  const reopened = open(file);
  t.teardown(() => reopened.close());
  t.is(reopened.stats().records, 0, "the deletion was committed at close");
});

test("sequence numbers are not given again after a crash", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  // A child process appends, publishes nothing and exits without closing the outbox, as after
  // kill -9: its records and its reserved block are on disk, its exact counters are not.
  const script = [
    'const { Outbox } = require("./src/outbox/outbox.ts");',
    'const { silentLogger } = require("./src/log.ts");',
    `const outbox = new Outbox({ file: ${JSON.stringify(file)}, maxBytes: 1e6, maxAgeMs: 1e6,`,
    '  whenFull: "drop-oldest", flushIntervalMs: 10000 }, silentLogger);',
    "for (let i = 0; i < 3; i++) {",
    '  const seq = outbox.takeSeq("a");',
    '  outbox.append({ deviceId: "a", seq, topic: "t/a", body: "{}", createdMs: Date.now(), offline: false });',
    "}",
    "outbox.flush();",
    "process.exit(0);",
  ].join("\n");
  execFileSync(process.execPath, ["--import", "tsx", "--eval", script], { cwd: repoRoot });
  const outbox = open(file);
  t.teardown(() => outbox.close());
  t.deepEqual(
    outbox.readAfter(0, 10).map((r) => r.seq),
    [1, 2, 3],
  );
  t.is(outbox.takeSeq("a"), 1 + seqBlock, "numbering goes on after the reserved block");
});

test("reserving for known devices keeps numbering", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"));
  t.teardown(() => outbox.close());
  outbox.reserveSeqs(["a", "b"]);
  t.is(outbox.takeSeq("a"), 1);
  t.is(outbox.takeSeq("b"), 1);
  t.is(outbox.takeSeq("a"), 2);
});

test("close saves the exact next sequence number", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const outbox = open(file);
  for (let index = 0; index < seqBlock - 10; index++) outbox.takeSeq("a");
  outbox.flush();
  outbox.close();
  const db = new DatabaseSync(file, { readOnly: true });
  t.teardown(() => db.close());
  const row = db.prepare("SELECT next FROM sequences WHERE device = 'a'").get();
  t.is(Number(row?.next), seqBlock - 9, "not the end of the reserved block");
});

test("records and sequence numbers survive a reopen", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const first = open(file);
  add(first, "a");
  add(first, "a");
  first.close();
  const second = open(file);
  t.teardown(() => second.close());
  t.is(second.readAfter(0, 10).length, 2);
  t.is(second.startMaxId, 2, "records of the earlier run are sent as replayed");
  t.is(second.takeSeq("a"), 3, "numbering goes on without a gap");
  t.is(second.takeSeq("b"), 1);
});

test("acknowledged records are deleted at the next commit", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"));
  t.teardown(() => outbox.close());
  add(outbox, "a");
  add(outbox, "a");
  outbox.flush();
  const [first] = outbox.readAfter(0, 10);
  if (first === undefined) return t.fail();
  outbox.acknowledge(first);
  t.is(outbox.readAfter(0, 10).length, 1, "hidden at once");
  outbox.flush();
  t.is(outbox.stats().records, 1);
});

test("full outbox drops the oldest records of the largest device", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"), { maxBytes: 20_000 });
  t.teardown(() => outbox.close());
  const drops: DropNotice[] = [];
  outbox.onDrop((notice) => drops.push(notice));
  for (let index = 0; index < 5; index++) add(outbox, "quiet");
  for (let index = 0; index < 300; index++) add(outbox, "noisy");
  outbox.flush();
  const left = outbox.readAfter(0, 1000);
  t.is(left.filter((r) => r.deviceId === "quiet").length, 5, "the quiet device keeps every record");
  const noisy = left.filter((r) => r.deviceId === "noisy").map((r) => r.seq);
  t.is(noisy.at(-1), 300, "the newest record is kept");
  t.true((noisy[0] ?? 0) > 1, "the oldest records went first");
  t.true(outbox.stats().bytes <= 20_000);
  t.true(drops.every((d) => d.deviceId === "noisy" && d.reason === "outbox full"));
  t.is(outbox.stats().droppedRecords, 300 - noisy.length);
});

test("refuse-new keeps the oldest records", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"), { maxBytes: 20_000, whenFull: "refuse-new" });
  t.teardown(() => outbox.close());
  for (let index = 0; index < 300; index++) add(outbox, "a");
  outbox.flush();
  const seqs = outbox.readAfter(0, 1000).map((r) => r.seq);
  t.is(seqs[0], 1);
  t.true(seqs.length < 300);
  t.is(outbox.stats().droppedRecords, 300 - seqs.length);
});

test("records older than maxAgeMs are kept until the agent ran that long", (t) => {
  // A wall clock stepped forward at boot makes fresh records look old.
  const outbox = open(join(tempDir(t), "o.sqlite"), { maxAgeMs: 60_000, monotonicMs: () => 1000 });
  t.teardown(() => outbox.close());
  add(outbox, "a", 10, Date.now() - 120_000);
  outbox.flush();
  t.is(outbox.readAfter(0, 10).length, 1);
  t.is(outbox.stats().droppedRecords, 0);
});

test("records older than maxAgeMs are dropped", (t) => {
  let monotonic = 0;
  const outbox = open(join(tempDir(t), "o.sqlite"), {
    maxAgeMs: 60_000,
    monotonicMs: () => monotonic,
  });
  monotonic = 61_000;
  t.teardown(() => outbox.close());
  add(outbox, "a", 10, Date.now() - 120_000);
  add(outbox, "a", 10);
  outbox.flush();
  t.deepEqual(
    outbox.readAfter(0, 10).map((r) => r.seq),
    [2],
  );
  t.is(outbox.stats().droppedRecords, 1);
});

test("full outbox drops observations before alarms", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"), { maxBytes: 20_000 });
  t.teardown(() => outbox.close());
  const seq = outbox.takeSeq("a");
  outbox.append({
    deviceId: "a",
    seq,
    topic: "t/a/alarm",
    body: JSON.stringify({ seq }),
    createdMs: Date.now(),
    offline: false,
  });
  for (let index = 0; index < 300; index++) add(outbox, "a");
  outbox.flush();
  const left = outbox.readAfter(0, 1000);
  t.is(left[0]?.topic, "t/a/alarm", "the oldest record, an alarm, is kept");
  t.true(left.length < 301);
});

test("close commits records still waiting for their window", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const first = open(file);
  add(first, "a");
  first.close();
  const second = open(file);
  t.teardown(() => second.close());
  t.is(second.readAfter(0, 10).length, 1);
});

test("records handed to the uplink are never deleted by a bound", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"), { maxBytes: 20_000 });
  t.teardown(() => outbox.close());
  for (let index = 0; index < 50; index++) add(outbox, "a");
  outbox.flush();
  const offered = outbox.readAfter(0, 10);
  for (let index = 0; index < 300; index++) add(outbox, "a");
  outbox.flush();
  const left = new Set(outbox.readAfter(0, 1000).map((r) => r.id));
  for (const record of offered) t.true(left.has(record.id), "offered records survive the bound");
  for (const record of offered) outbox.acknowledge(record);
  outbox.flush();
  const stats = outbox.stats();
  t.true(stats.records >= 0 && stats.bytes >= 0, JSON.stringify(stats));
  t.is(stats.records, left.size - offered.length);
});

test("second agent on the same outbox gets a clear error", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  const first = open(file);
  t.teardown(() => first.close());
  add(first, "a");
  first.flush();
  const error = t.throws(() => open(file));
  t.regex(error?.message ?? "", /^STATE_LOCKED: outbox .* is in use by another process/);
});

test("damaged outbox file gets a clear error", (t) => {
  const file = join(tempDir(t), "o.sqlite");
  writeFileSync(file, randomBytes(8192));
  const error = t.throws(() => open(file));
  t.regex(error?.message ?? "", /^STATE_DAMAGED: outbox .* cannot be opened .*move it aside/);
});
