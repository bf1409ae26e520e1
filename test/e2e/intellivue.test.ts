/**
 * Hardware in the loop for the IntelliVue family. The simulator talks on one end of a socat
 * pty pair at 115200 8N1, and the agent reads the other end through the serialport driver.
 * The agent publishes to a mosquitto with mutual TLS, where a subscriber with its own
 * certificate checks numerics, units, an alarm and a wave segment.
 */
import test from "ava";
import type {
  AlarmPayload,
  AuditPayload,
  DeviceStatePayload,
  ObservationsPayload,
} from "../../src/mqtt/payloads.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import type { IntellivueSimulatorOptions } from "../../src/protocols/intellivue/simulator.js";
import { segmentsOf } from "../helpers/wave-messages.js";
import { startSerialDeviceRig } from "./single-device.js";

const prefix = "iomt/v1/icu3/gw-test/devices/bed7-monitor";

const monitor = { id: "bed7-monitor", profileId: "philips-intellivue-mp70", ptyName: "mp70" };

test("IntelliVue monitor on a serial port reaches the broker", async (t) => {
  const { subscriber } = await startSerialDeviceRig(t, monitor);

  await subscriber.waitFor(
    (m) =>
      m.topic === "iomt/v1/icu3/gw-test/audit" &&
      (m.payload as AuditPayload).event === "agent-started",
    20_000,
  );
  const [obsMessage] = await subscriber.waitFor((m) => m.topic === `${prefix}/obs`, 20_000);
  // The events of the start are made before the first connection, and sent with it: live.
  const startEvents = subscriber.messages
    .filter((m) => m.topic === "iomt/v1/icu3/gw-test/audit")
    .map((m) => m.payload as AuditPayload);
  t.true(startEvents.length >= 2, startEvents.map((event) => event.event).join(", "));
  t.deepEqual(
    startEvents.filter((event) => event.replayed).map((event) => event.event),
    [],
  );
  const obs = obsMessage?.payload as ObservationsPayload;
  t.is(obs.profile, "philips-intellivue-mp70@1.0.0");
  t.regex(obs.deviceTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d$/);
  const byCode = new Map(obs.observations.map((o) => [o.mdcCode, o]));
  const heartRate = byCode.get(147842);
  t.is(heartRate?.unit, "/min");
  t.is(heartRate?.deviceCode, "4182/0AA0");
  t.true(typeof heartRate?.value === "number" && heartRate.value >= 55 && heartRate.value <= 110);
  t.is(byCode.get(150456)?.unit, "%");
  t.is(byCode.get(150021)?.value, 120);
  t.is(byCode.get(150021)?.unit, "mm[Hg]");
  t.is(byCode.get(150344)?.unit, "Cel");

  const [waveMessage] = await subscriber.waitFor((m) => m.topic === `${prefix}/wave`, 20_000);
  // Each reply carries the same span of every wave, so their segments fill on one reply and
  // leave in one message.
  const segments = segmentsOf(waveMessage === undefined ? [] : [waveMessage]);
  t.deepEqual(segments.map((segment) => segment.mdcCode).sort(), [131330, 150036, 150452]);
  const wave = segments.find((segment) => segment.mdcCode === 131330);
  if (wave === undefined) return;
  t.is(wave.deviceCode, "0102");
  t.is(wave.unit, "mV");
  t.is(wave.samplePeriodMs, 2);
  t.is(wave.scale, 0.001);
  // A segment spans waveSegmentMs (500 ms) of signal: 250 samples at 500 per second.
  t.true(wave.samples.length >= 200, `${wave.samples.length} samples`);
  t.true(wave.samples.every((s) => s !== null && s > 7000 && s < 10_000));

  // The simulated temperature probe is unplugged from 10 s to 15 s of every 20 s.
  const [alarmMessage] = await subscriber.waitFor((m) => m.topic === `${prefix}/alarm`, 25_000);
  const alarm = alarmMessage?.payload as AlarmPayload;
  t.is(alarm.alarmCode, "4B48/0D01");
  t.is(alarm.text, "TEMP UNPLUGGED");
  t.is(alarm.state, "active");
  t.is(alarm.priority, 2);
  const [invalidTemp] = await subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/obs` &&
      (m.payload as ObservationsPayload).observations.some(
        (o) => o.mdcCode === 150344 && o.value === null,
      ),
    10_000,
  );
  const temp = (invalidTemp?.payload as ObservationsPayload).observations.find(
    (o) => o.mdcCode === 150344,
  );
  t.is(temp?.absentReason, "invalid");
});

test("IntelliVue abort shows negotiating until re-associated", async (t) => {
  const options: IntellivueSimulatorOptions = {
    ...defaultSimulatorOptions,
    abortAssociationAfterMs: 4000,
  };
  const { subscriber } = await startSerialDeviceRig(t, monitor, options);

  // The monitor aborts 4 s after each association, and the agent associates again 2 s later:
  // wait for the device states connected, negotiating and connected again, in that order.
  const stateOf = (message: { topic: string; payload: unknown }) =>
    message.topic === `${prefix}/state` ? (message.payload as DeviceStatePayload) : undefined;
  const states = () => subscriber.messages.map(stateOf).filter((state) => state !== undefined);
  await subscriber.waitFor((message) => {
    const state = stateOf(message);
    if (state?.state !== "connected") return false;
    const sequence = states();
    const first = sequence.findIndex((earlier) => earlier.state === "connected");
    const negotiating = sequence.findIndex(
      (later, index) => index > first && later.state === "negotiating",
    );
    return first >= 0 && negotiating > first && sequence.indexOf(state) > negotiating;
  }, 30_000);
  const negotiating = states()
    .filter((s) => s.state === "negotiating")
    .at(-1);
  t.regex(negotiating?.reason ?? "", /ended its session/);
  t.is(states().at(-1)?.state, "connected");
});
