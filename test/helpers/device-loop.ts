/**
 * Wires a family's simulator to the real device pipeline (framer, decoder, session, mapper) in
 * memory, on a fake clock: the simulator ticks every simulator.tickMs and the session every
 * pipeline.tickMs. Used by the simulator and session loop tests of each family.
 */
import { DevicePipeline, type NumericsBatch, type Identity } from "../../src/device/pipeline.js";
import type { GatewayError } from "../../src/errors.js";
import type { Profile } from "../../src/profiles/schema.js";
import {
  defaultSimulatorOptions,
  type DeviceSimulator,
  type SimulatorOptions,
} from "../../src/protocols/family.js";
import { codecFor } from "../../src/protocols/registry.js";
import type { Outgoing, Session } from "../../src/protocols/types.js";

export interface LoopHooks {
  /**
   * Returns the bytes of a gateway message that reach the device: changed ones to garble it,
   * or null to lose it. Unset delivers every message as sent.
   */
  deliverToDevice?: (message: Outgoing, nowMs: number) => Buffer | null;
}

export interface LoopResult<S extends DeviceSimulator, T extends Session> {
  pipeline: DevicePipeline;
  simulator: S;
  session: T;
  batches: NumericsBatch[];
  identities: Identity[];
  errors: GatewayError[];
  /** Everything the gateway wrote, by label. */
  sentLabels: string[];
}

export function runDeviceLoop<S extends DeviceSimulator, T extends Session>(
  profile: Profile,
  options: Partial<SimulatorOptions> & Record<string, unknown>,
  durationMs: number,
  hooks: LoopHooks = {},
): LoopResult<S, T> {
  const codec = codecFor(profile);
  let session: Session | undefined;
  const captured = {
    ...codec,
    createSession: (host: Parameters<typeof codec.createSession>[0]) =>
      (session = codec.createSession(host)),
  };
  const pipeline = new DevicePipeline(captured, profile, { name: "IOMTGW", revision: "0.1.0" });
  const simulator = codec.createSimulator({ ...defaultSimulatorOptions, ...options }) as S;
  const result = {
    pipeline,
    simulator,
    session: session as unknown as T,
    batches: [] as NumericsBatch[],
    identities: [] as Identity[],
    errors: [] as GatewayError[],
    sentLabels: [] as string[],
  };

  const toDevice = (outgoing: Outgoing[], now: number): void => {
    for (const message of outgoing) {
      result.sentLabels.push(message.label);
      const delivered = hooks.deliverToDevice ? hooks.deliverToDevice(message, now) : message.bytes;
      if (delivered === null) continue;
      fromDevice(simulator.receive(delivered, now), now);
    }
  };
  const fromDevice = (chunks: Buffer[], now: number): void => {
    for (const chunk of chunks) {
      const ingested = pipeline.ingest(chunk, now);
      result.batches.push(...ingested.batches);
      if (ingested.identity !== undefined) result.identities.push(ingested.identity);
      result.errors.push(...ingested.errors);
      toDevice(ingested.outgoing, now);
    }
  };

  toDevice(pipeline.open(0), 0);
  fromDevice(simulator.start(0), 0);
  for (let now = simulator.tickMs; now <= durationMs; now += simulator.tickMs) {
    fromDevice(simulator.tick(now), now);
    if (now % pipeline.tickMs === 0) toDevice(pipeline.tick(now), now);
  }
  return result;
}
