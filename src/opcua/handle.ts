/**
 * The OPC UA server as the agent uses it, and the one place that loads it. node-opcua is loaded
 * only here, on demand: an MQTT-only gateway never pays its start time and memory. In the bundle
 * the import below resolves to dist/opcua.cjs, a separate file (build/esbuild.mjs).
 */
import type { OpcuaConfig, DeviceConfig } from "../config/schema.js";
import type { DeviceSink } from "../device/supervisor.js";
import type { Logger } from "../log.js";
import type { Prepared } from "../preflight.js";
import type { LoadedProfile } from "../profiles/load.js";
import type { Profile } from "../profiles/schema.js";
import type { OpcuaCertificate } from "./certificate.js";

export interface OpcuaServerOptions {
  config: OpcuaConfig;
  certificate: OpcuaCertificate;
  dataDir: string;
  devices: readonly { device: DeviceConfig; profile: Profile }[];
  log: Logger;
}

export interface OpcuaServerHandle {
  /** The endpoint URL clients connect to, such as opc.tcp://gateway:4840. */
  endpointUrl: string;
  /** The sink that feeds one configured device's object. */
  sinkFor(deviceId: string): DeviceSink;
  stop(): Promise<void>;
}

export async function startOpcua(options: OpcuaServerOptions): Promise<OpcuaServerHandle> {
  const { startOpcuaServer } = await import("./server.js");
  return startOpcuaServer(options);
}

/** Starts the OPC UA server before the devices, so it receives their first records. */
export function startOpcuaWhenEnabled(
  prepared: Prepared,
  log: Logger,
): Promise<OpcuaServerHandle | undefined> {
  const { config } = prepared;
  if (!config.opcua.enabled || prepared.opcua === undefined) return Promise.resolve(undefined);
  const opcuaLog = log.child("opcua");
  for (const warning of prepared.opcua.warnings) opcuaLog.warn(warning);
  return startOpcua({
    config: config.opcua,
    certificate: prepared.opcua,
    dataDir: config.dataDir,
    devices: config.devices.map((device) => ({
      device,
      profile: (prepared.profiles.get(device.profile) as LoadedProfile).profile,
    })),
    log: opcuaLog,
  });
}
