/**
 * Setup shared by the hardware-in-the-loop tests of single device families. It makes a dev PKI,
 * a mosquitto with mutual TLS and a subscriber with its own client certificate. It also runs
 * socat pty pairs, simulators of built-in profiles, and the agent as a process from a config file.
 */
import type { ExecutionContext } from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { createLogger } from "../../src/log.js";
import { createDevPki, type DevPki } from "../../src/pki/dev-ca.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import type { Profile } from "../../src/profiles/schema.js";
import { defaultSimulatorOptions, type SimulatorOptions } from "../../src/protocols/family.js";
import { createPtyPair, type PtyPair } from "../../src/simulate/pty-pair.js";
import {
  runSerialSimulator,
  runTcpSimulator,
  type RunningSimulator,
} from "../../src/simulate/runner.js";
import { cliCommand, startCli, type AgentProcess } from "../helpers/agent-process.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { connectSubscriber, type Subscriber } from "../helpers/subscriber.js";
import { tempDir } from "../helpers/tmp.js";

const quiet = createLogger({ level: "error", format: "text" });

/** Creates a dev PKI under `dir` with the agent's client "gateway" and the subscriber's "dashboard". */
export function createTestPki(dir: string): Promise<DevPki> {
  return createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
}

/**
 * Starts mosquitto with mutual TLS and connects the "dashboard" subscriber to `topic` at QoS 1.
 * Both stop when the test ends.
 */
export async function startBrokerAndSubscriber(
  t: ExecutionContext,
  pki: DevPki,
  topic = "iomt/v1/#",
): Promise<{ broker: Mosquitto; subscriber: Subscriber }> {
  const broker = await startMosquitto({ pki, dir: tempDir(t) });
  t.teardown(() => broker.stop());
  const subscriber = await connectSubscriber(broker.url, pki, "dashboard");
  t.teardown(() => subscriber.close());
  await subscriber.subscribe(topic, 1);
  return { broker, subscriber };
}

/** Returns the built-in profile `id`, and throws if firmware-profiles/ has none by that id. */
export function builtInProfile(id: string): Profile {
  const profile = loadProfiles(builtInProfileDirs()).profiles.get(id)?.profile;
  if (profile === undefined) throw new Error(`built-in profile ${id} not found`);
  return profile;
}

/** Creates a socat pty pair in `dir` named `<name>-device` and `<name>-host`. */
export async function startPtyPair(
  t: ExecutionContext,
  dir: string,
  name: string,
): Promise<PtyPair> {
  const pty = await createPtyPair(dir, { deviceName: `${name}-device`, hostName: `${name}-host` });
  t.teardown(() => pty.stop());
  return pty;
}

/** Runs the simulator of `profile` on the serial port `path` until the test ends. */
export async function startSerialSimulator(
  t: ExecutionContext,
  profile: Profile,
  path: string,
  options: SimulatorOptions = defaultSimulatorOptions,
): Promise<RunningSimulator> {
  const simulator = await runSerialSimulator(profile, path, options, quiet);
  t.teardown(() => simulator.stop());
  return simulator;
}

/** Runs the simulator of `profile` as a device server on a free loopback TCP port. */
export async function startTcpSimulator(
  t: ExecutionContext,
  profile: Profile,
  options: SimulatorOptions = defaultSimulatorOptions,
): Promise<RunningSimulator & { port: number }> {
  const simulator = await runTcpSimulator(profile, "127.0.0.1", 0, options, quiet);
  t.teardown(() => simulator.stop());
  return simulator;
}

export type DeviceLink =
  { kind: "serial"; path: string } | { kind: "tcp"; host: string; port: number };

export interface DeviceConfig {
  id: string;
  profile: string;
  link: DeviceLink;
}

/** Returns the config of device `id` with `profile` on the serial port `path`. */
export function serialDevice(id: string, profile: string, path: string): DeviceConfig {
  return { id, profile, link: { kind: "serial", path } };
}

/** Returns the config of device `id` with `profile` behind a device server on loopback `port`. */
export function tcpDevice(id: string, profile: string, port: number): DeviceConfig {
  return { id, profile, link: { kind: "tcp", host: "127.0.0.1", port } };
}

export interface AgentConfig {
  site: string;
  gateway: string;
  /** URL of the broker the agent connects to with the "gateway" client certificate. */
  brokerUrl: string;
  pki: DevPki;
  devices: DeviceConfig[];
  /** Other top-level settings, such as `health` or `reconnect`. */
  settings?: Record<string, unknown>;
}

/** Writes `dir/config.yaml` with its data directory at `dir/data`, and returns its path. */
export function writeAgentConfig(dir: string, config: AgentConfig): string {
  const client = config.pki.clients.gateway;
  if (client === undefined)
    throw new Error('client "gateway" missing from the dev PKI: create it with createTestPki');
  const file = join(dir, "config.yaml");
  const document = {
    site: config.site,
    gateway: config.gateway,
    dataDir: join(dir, "data"),
    broker: {
      url: config.brokerUrl,
      caFile: config.pki.ca.cert,
      certFile: client.cert,
      keyFile: client.key,
    },
    ...config.settings,
    devices: config.devices,
  };
  writeFileSync(file, stringify(document));
  return file;
}

/**
 * Starts `iomt-gateway run --config file` from the sources. It stops when the test ends, and
 * the end of its output goes to the test log if the test failed.
 */
export function startAgentFromConfig(t: ExecutionContext, dir: string, file: string): AgentProcess {
  const agent = startCli(cliCommand("source"), ["run", "--config", file], dir);
  t.teardown(async () => {
    await agent.stop();
    if (!t.passed) t.log(agent.output().slice(-4000));
  });
  return agent;
}

/**
 * Starts the whole rig for one serial device of site icu3, gateway gw-test: PKI, broker and
 * subscriber, a pty pair named `ptyName`, the simulator of `profileId` with `options`, and
 * the agent. Everything stops when the test ends.
 */
export async function startSerialDeviceRig(
  t: ExecutionContext,
  device: { id: string; profileId: string; ptyName: string },
  options: SimulatorOptions = defaultSimulatorOptions,
): Promise<{ broker: Mosquitto; subscriber: Subscriber; agent: AgentProcess }> {
  const dir = tempDir(t);
  const pki = await createTestPki(dir);
  const { broker, subscriber } = await startBrokerAndSubscriber(t, pki);
  const pty = await startPtyPair(t, dir, device.ptyName);
  await startSerialSimulator(t, builtInProfile(device.profileId), pty.devicePath, options);
  const file = writeAgentConfig(dir, {
    site: "icu3",
    gateway: "gw-test",
    brokerUrl: broker.url,
    pki,
    devices: [serialDevice(device.id, device.profileId, pty.hostPath)],
  });
  const agent = startAgentFromConfig(t, dir, file);
  return { broker, subscriber, agent };
}
