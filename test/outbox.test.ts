import test from "ava";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../src/log.js";
import { Outbox, type DropNotice, type OutboxOptions } from "../src/outbox/outbox.js";
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

test("nothing is readable before its commit", (t) => {
  const outbox = open(join(tempDir(t), "o.sqlite"));
  t.teardown(() => outbox.close());
  add(outbox, "a");
  t.deepEqual(outbox.readAfter(0, 10), []);
  outbox.flush();
  t.is(outbox.readAfter(0, 10).length, 1);
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
