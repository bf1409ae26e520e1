import test from "ava";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { SequenceCounter } from "../../src/device/sequence.js";
import { DevicePublisher } from "../../src/mqtt/device-publisher.js";
import type { ObservationsPayload } from "../../src/mqtt/payloads.js";
import { topics } from "../../src/mqtt/topics.js";
import type { MqttUplink } from "../../src/mqtt/uplink.js";
import { loadProfileFile } from "../../src/profiles/load.js";
import { tempDir } from "../helpers/tmp.js";

function publisherWith(t: Parameters<typeof tempDir>[0], connected: boolean) {
  const loaded = loadProfileFile(
    join(__dirname, "..", "..", "firmware-profiles", "masimo-radical7-ascii1.yaml"),
  );
  if (!loaded.ok) throw new Error("profile did not load");
  const sent: { deviceId: string; topic: string; payload: unknown }[] = [];
  const uplink = {
    connected,
    publishRecord: (deviceId: string, topic: string, payload: unknown) =>
      sent.push({ deviceId, topic, payload }),
  } as unknown as MqttUplink;
  const sequence = new SequenceCounter(join(tempDir(t), "seq.json"));
  const root = topics({ prefix: "iomt/v1", site: "s", gateway: "g" });
  return {
    publisher: new DevicePublisher("bed1", loaded.loaded.profile, sequence, root, uplink),
    sent,
  };
}

const batch = {
  measurements: [
    { deviceCode: "SPO2", mdcCode: 150456, mdcRefId: "MDC_PULS_OXIM_SAT_O2", value: 97, unit: "%" },
  ],
};

test("records made while the broker is away are marked replayed", (t) => {
  const { publisher, sent } = publisherWith(t, false);
  publisher.observations(batch, Date.parse("2026-12-04T16:00:00Z"));
  const payload = sent[0]?.payload as ObservationsPayload;
  t.true(payload.replayed);
  t.is(payload.receivedAt, "2026-12-04T16:00:00.000Z");
  t.is(sent[0]?.topic, "iomt/v1/s/g/devices/bed1/obs");
});

test("records made while connected are not replayed", (t) => {
  const { publisher, sent } = publisherWith(t, true);
  publisher.observations(batch, Date.now());
  publisher.observations(batch, Date.now());
  const [first, second] = sent.map((item) => item.payload as ObservationsPayload);
  t.false(first?.replayed);
  t.is((second?.seq ?? 0) - (first?.seq ?? 0), 1);
});

test("failed sequence write does not stop numbering", (t) => {
  const dir = tempDir(t);
  // A folder where the temporary file should go makes every write fail, like a read-only card.
  const file = join(dir, "seq.json");
  const errors: string[] = [];
  mkdirSync(`${file}.tmp`);
  const sequence = new SequenceCounter(file, 2);
  sequence.onWriteError = (message) => errors.push(message);
  t.deepEqual([sequence.take(), sequence.take(), sequence.take()], [1, 2, 3]);
  t.is(errors.length, 2, "one error per block");
  t.regex(sequence.lastWriteError ?? "", /EISDIR/);
});
