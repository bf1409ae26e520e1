import test, { type ExecutionContext } from "ava";
import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { AlarmPayload, HealthPayload } from "../../src/mqtt/payloads.js";
import { cliCommand } from "../helpers/agent-process.js";
import type { ReceivedMessage } from "../helpers/subscriber.js";
import {
  buildWorld,
  expectNoGap,
  keepWriting,
  masimoSeqs,
  masimoLine,
  observationsOf,
  payloadOf,
  prefix,
  startAgentIn,
  type ObservationsPayload,
  type World,
} from "./scenario.js";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const seqAtLeast = (seq: number) => (m: ReceivedMessage) =>
  observationsOf("bed12-spo2")(m) && payloadOf<ObservationsPayload>(m).seq >= seq;

test("records made while the broker is down all arrive after it returns", async (t) => {
  const world = await buildWorld(t, { persistence: true });
  startAgentIn(t, world, cliCommand("source"));
  t.teardown(keepWriting(world.masimoDevice, () => masimoLine("097", "072")));
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 3);

  await world.broker.stop();
  await delay(3000);
  await world.broker.restart();
  const replayed = await world.subscriber.waitFor(
    (m) => observationsOf("bed12-spo2")(m) && payloadOf<ObservationsPayload>(m).replayed,
    20_000,
    8,
  );
  const lastReplayed = Math.max(...replayed.map((m) => payloadOf<ObservationsPayload>(m).seq));
  await world.subscriber.waitFor(seqAtLeast(lastReplayed + 3), 20_000);
  expectNoGap(t, masimoSeqs(world.subscriber.messages));
});

test("kill -9 while the broker is down loses no committed record", async (t) => {
  const world = await buildWorld(t, { persistence: true });
  const first = startAgentIn(t, world, cliCommand("source"));
  const stopWriting = keepWriting(world.masimoDevice, () => masimoLine("097", "072"));
  t.teardown(stopWriting);
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 2);

  await world.broker.stop();
  await delay(2500);
  first.child.kill("SIGKILL");
  await first.exited;
  const committed = lastCommittedSeq(world, "bed12-spo2");
  t.true(committed > 5, `committed up to seq ${committed}`);

  startAgentIn(t, world, cliCommand("source"));
  await delay(1500);
  await world.broker.restart();
  // The second run numbers its records after the block the first run had reserved on disk.
  const secondRun = (m: ReceivedMessage) =>
    observationsOf("bed12-spo2")(m) && payloadOf<ObservationsPayload>(m).seq > committed;
  await world.subscriber.waitFor(secondRun, 30_000, 3);
  const seqs = masimoSeqs(world.subscriber.messages);
  const firstRunSeqs = seqs.filter((seq) => seq <= committed);
  expectNoGap(t, firstRunSeqs);
  t.is(firstRunSeqs.at(-1), committed, "the last record committed before the kill arrived");
  const secondRunSeqs = seqs.filter((seq) => seq > committed);
  expectNoGap(t, secondRunSeqs);
  t.true((secondRunSeqs[0] ?? 0) > committed + 1, "a number given before the kill is not reused");
});

test("kill -9 while connected reuses no published sequence number", async (t) => {
  const world = await buildWorld(t, { persistence: true });
  const first = startAgentIn(t, world, cliCommand("source"));
  t.teardown(keepWriting(world.masimoDevice, () => masimoLine("097", "072")));
  // Records are published before their commit, so some of these were never on disk.
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 4);
  first.child.kill("SIGKILL");
  await first.exited;
  const published = Math.max(...masimoSeqs(world.subscriber.messages));

  startAgentIn(t, world, cliCommand("source"));
  const secondRun = (m: ReceivedMessage) =>
    observationsOf("bed12-spo2")(m) &&
    !payloadOf<ObservationsPayload>(m).replayed &&
    payloadOf<ObservationsPayload>(m).seq > published;
  const [next] = await world.subscriber.waitFor(secondRun, 30_000);
  const seqs = masimoSeqs(world.subscriber.messages);
  expectNoGap(
    t,
    seqs.filter((seq) => seq <= published),
  );
  t.true(
    payloadOf<ObservationsPayload>(next).seq > published + 1,
    "the second run starts after the block reserved by the first",
  );
});

test("a black-holed connection is detected and nothing is lost", async (t) => {
  const proxy = await startProxy(t);
  const world = await buildWorld(t, {
    agentBrokerUrl: (url) => url.replace(/:\d+$/, `:${proxy.port}`),
    brokerSettings: "  keepAliveSeconds: 5",
  });
  proxy.target(world.broker.port);
  startAgentIn(t, world, cliCommand("source"));
  t.teardown(keepWriting(world.masimoDevice, () => masimoLine("097", "072")));
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 3);

  proxy.blackHole(true); // the socket stays open and nothing passes
  await delay(4000);
  const before = masimoSeqs(world.subscriber.messages).at(-1) ?? 0;
  await delay(6000);
  proxy.blackHole(false);
  proxy.resetAll();
  await world.subscriber.waitFor(seqAtLeast(before + 40), 30_000);
  expectNoGap(t, masimoSeqs(world.subscriber.messages));
});

test("full outbox drops the oldest records and raises an alarm", async (t) => {
  const world = await buildWorld(t, {
    persistence: true,
    settings: "outbox: { maxBytes: 65536, flushIntervalMs: 20 }",
  });
  const agent = startAgentIn(t, world, cliCommand("source"));
  await world.subscriber.waitFor((m) => m.topic === `${prefix}/state`, 20_000);
  await world.broker.stop();
  const stopWriting = keepWriting(world.masimoDevice, () => masimoLine("097", "072"), 10);
  await delay(4000);
  stopWriting();
  await delay(500);
  await world.broker.restart();

  t.teardown(() => {
    if (t.passed) return;
    const healths = world.subscriber.messages.filter((m) => m.topic === `${prefix}/health`);
    t.log(JSON.stringify(payloadOf<HealthPayload>(healths.at(-1)).outbox));
    const alarms = world.subscriber.messages.filter((m) => m.topic.endsWith("spo2/alarm"));
    t.log(alarms.map((m) => payloadOf<AlarmPayload>(m).alarmCode).join(","));
  });
  const [dropped] = await world.subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/devices/bed12-spo2/alarm` &&
      payloadOf<AlarmPayload>(m).alarmCode === "records-dropped",
    30_000,
  );
  t.is(payloadOf<AlarmPayload>(dropped).state, "active");
  const [health] = await world.subscriber.waitFor(
    (m) => m.topic === `${prefix}/health` && payloadOf<HealthPayload>(m).outbox.droppedRecords > 0,
    30_000,
  );
  t.true(payloadOf<HealthPayload>(health).outbox.bytes <= 65536 * 1.1);
  await delay(2000);
  // The agent locks the outbox while it runs, so read it after the stop.
  t.is(await agent.stop(), 0);
  const seqs = masimoSeqs(world.subscriber.messages);
  t.true(seqs.length > 10);
  t.is(seqs.at(-1), committedNext(world, "bed12-spo2") - 1, "the newest record arrived");
});

/** Returns the newest sequence number of the device's records on disk (none acknowledged). */
function lastCommittedSeq(world: World, deviceId: string): number {
  const db = new DatabaseSync(join(world.dir, "data", "outbox.sqlite"), { readOnly: true });
  try {
    const row = db.prepare("SELECT MAX(seq) AS seq FROM records WHERE device = ?").get(deviceId);
    return Number(row?.seq ?? 0);
  } finally {
    db.close();
  }
}

/** Returns the device's next sequence number as saved on disk by an agent that stopped cleanly. */
function committedNext(world: World, deviceId: string): number {
  const db = new DatabaseSync(join(world.dir, "data", "outbox.sqlite"), { readOnly: true });
  try {
    const row = db.prepare("SELECT next FROM sequences WHERE device = ?").get(deviceId);
    return Number(row?.next ?? 1);
  } finally {
    db.close();
  }
}

/** Starts a loopback TCP proxy that can stop forwarding without closing its sockets. */
async function startProxy(t: ExecutionContext) {
  let targetPort = 0;
  let holed = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk) => {
      if (!holed) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!holed) client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    target: (port: number) => {
      targetPort = port;
    },
    blackHole: (on: boolean) => {
      holed = on;
    },
    resetAll: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
  };
}

test("a restart with another configuration keeps the outbox", async (t) => {
  const world = await buildWorld(t, { persistence: true });
  const first = startAgentIn(t, world, cliCommand("source"));
  const stopWriting = keepWriting(world.masimoDevice, () => masimoLine("097", "072"));
  await world.subscriber.waitFor(observationsOf("bed12-spo2"), 20_000, 2);
  await world.broker.stop();
  await delay(2000);
  stopWriting();
  t.is(await first.stop(), 0);
  const committed = committedNext(world, "bed12-spo2") - 1;

  // The Masimo device is taken out of the configuration; its stored records must still go.
  const config = readFileSync(world.configFile, "utf8");
  const withoutMasimo = config.replace(/ {2}- id: bed12-spo2\n( {4}.*\n){2}/, "");
  t.notRegex(withoutMasimo, /bed12-spo2/);
  writeFileSync(world.configFile, withoutMasimo);
  startAgentIn(t, world, cliCommand("source"));
  await world.broker.restart();
  await world.subscriber.waitFor(seqAtLeast(committed), 30_000);
  const seqs = masimoSeqs(world.subscriber.messages);
  expectNoGap(t, seqs);
  const late = world.subscriber.messages
    .filter(observationsOf("bed12-spo2"))
    .filter((m) => payloadOf<ObservationsPayload>(m).seq > (seqs[0] ?? 0) + 3);
  t.true(late.some((m) => payloadOf<ObservationsPayload>(m).replayed));
});
