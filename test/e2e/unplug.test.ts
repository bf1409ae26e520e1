import test from "ava";
import { cliCommand } from "../helpers/agent-process.js";
import { createPtyPair } from "../../src/simulate/pty-pair.js";
import {
  buildWorld,
  closePort,
  keepWriting,
  masimoLine,
  observationsOf,
  openDeviceEnd,
  payloadOf,
  prefix,
  startAgentIn,
  type AlarmPayload,
  type DeviceStatePayload,
  type ObservationsPayload,
} from "./scenario.js";

const stateIs = (state: string) => (m: { topic: string; payload: unknown }) =>
  m.topic === `${prefix}/devices/bed12-spo2/state` &&
  payloadOf<DeviceStatePayload>(m as never).state === state;
const alarm = (code: string, state: string) => (m: { topic: string; payload: unknown }) =>
  m.topic === `${prefix}/devices/bed12-spo2/alarm` &&
  payloadOf<AlarmPayload>(m as never).alarmCode === code &&
  payloadOf<AlarmPayload>(m as never).state === state;

test("agent keeps running and reconnects after the port is removed and created again", async (t) => {
  const world = await buildWorld(t);
  const agent = startAgentIn(t, world, cliCommand("source"));
  const { subscriber } = world;
  const stopFirst = keepWriting(world.masimoDevice, () => masimoLine("097", "072"));
  await subscriber.waitFor(stateIs("connected"), 20_000);
  stopFirst();

  // Unplug: the virtual cable and both of its device nodes vanish.
  await closePort(world.masimoDevice);
  await world.masimoPty.stop();
  const [lost] = await subscriber.waitFor(stateIs("lost"), 10_000);
  t.truthy(payloadOf<DeviceStatePayload>(lost).reason);
  const [raised] = await subscriber.waitFor(alarm("link-lost", "active"), 10_000);
  t.is(payloadOf<AlarmPayload>(raised).source, "technical");
  const seqBefore = Math.max(
    ...subscriber.messages
      .filter(observationsOf("bed12-spo2"))
      .map((m) => payloadOf<ObservationsPayload>(m).seq),
  );

  // Plug back in on the same path, a few back-off periods later.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.is(agent.child.exitCode, null, "the agent did not exit when the device went away");
  const pty = await createPtyPair(world.dir, {
    deviceName: "masimo-device",
    hostName: "masimo-host",
  });
  t.teardown(() => pty.stop());
  const device = await openDeviceEnd(pty.devicePath);
  t.teardown(() => closePort(device));
  const stopSecond = keepWriting(device, () => masimoLine("095", "080"));
  t.teardown(stopSecond);

  const isNewValue = (m: { topic: string; payload: unknown }) =>
    observationsOf("bed12-spo2")(m as never) &&
    payloadOf<ObservationsPayload>(m as never).observations[0]?.value === 95;
  const [after] = await subscriber.waitFor(isNewValue, 20_000);
  t.true(payloadOf<ObservationsPayload>(after).seq > seqBefore);
  await subscriber.waitFor(alarm("link-lost", "cleared"), 10_000);
  const [reconnected] = await subscriber.waitFor(stateIs("connected"), 10_000, 2);
  t.truthy(reconnected);
  const states = subscriber.messages.filter(
    (m) => m.topic === `${prefix}/devices/bed12-spo2/state`,
  );
  const last = payloadOf<DeviceStatePayload>(states[states.length - 1]);
  t.true(last.counters.reconnects >= 1);
});

test("stale data raises a technical alarm and no fresh-looking values", async (t) => {
  const world = await buildWorld(t);
  startAgentIn(t, world, cliCommand("source"));
  const { subscriber } = world;
  const stop = keepWriting(world.masimoDevice, () => masimoLine("097", "072"));
  await subscriber.waitFor(stateIs("connected"), 20_000);
  stop();
  const stoppedAt = Date.now();
  const [stale] = await subscriber.waitFor(stateIs("stale"), 15_000);
  // The profile's quiet time is 5 s: stale must not come before it.
  t.true(Date.now() - stoppedAt >= 4500, `stale after ${Date.now() - stoppedAt} ms`);
  t.regex(payloadOf<DeviceStatePayload>(stale).reason ?? "", /no valid frame for \d+ ms/);
  await subscriber.waitFor(alarm("data-stale", "active"), 5000);
  const lastObservation = subscriber.messages.filter(observationsOf("bed12-spo2")).at(-1);
  t.true(Date.parse(payloadOf<ObservationsPayload>(lastObservation).receivedAt) <= stoppedAt + 300);
});
