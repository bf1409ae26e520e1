import test from "ava";
import { cliCommand } from "../helpers/agent-process.js";
import {
  buildWorld,
  expectMainJob,
  payloadOf,
  prefix,
  startAgentIn,
  type GatewayStatePayload,
} from "./scenario.js";

test("devices on virtual serial ports reach the broker over mutual TLS", async (t) => {
  const world = await buildWorld(t);
  const agent = startAgentIn(t, world, cliCommand("source"));
  await expectMainJob(t, world);

  t.is(await agent.stop(), 0, agent.output().slice(-2000));
  const offline = await world.subscriber.waitFor(
    (m) => m.topic === `${prefix}/state` && payloadOf<GatewayStatePayload>(m).state === "offline",
    10_000,
  );
  t.is(offline.length, 1);
});
