/**
 * The interface of a protocol family. One family is implemented once in code, and each device
 * model is a profile file that names the family and gives its parameters.
 */
import type { Decoder, Framer, Session } from "./types.js";

/** The identity the gateway sends to devices that request it (MEDIBUS "Request Device ID"). */
export interface HostIdentity {
  /** Short name, printable ASCII. */
  name: string;
  /** Software revision, printable ASCII. */
  revision: string;
}

/** Values a simulator sends, and faults it injects, so tests can check every path. */
export interface SimulatorOptions {
  /** Seed for the pseudo-random drift of the simulated values. */
  seed: number;
  /** Every Nth frame the simulator sends carries a wrong checksum (0 = never). */
  corruptEvery: number;
  /** Every Nth frame is preceded by a few garbage bytes (0 = never). */
  garbageEvery: number;
  /** Serial number the simulated device reports. */
  serialNumber: string;
  /**
   * Samples per second of every simulated wave, for simulators that send waves. Default: the
   * rates the profile's wave mappings declare.
   */
  waveRate?: number;
  /**
   * Sends at a fixed benchmark load from the start, without waiting for a request, in the
   * families that support it (GE/Datex-Ohmeda S/5: numerics every second and three waveforms).
   */
  stream?: boolean;
}

export const defaultSimulatorOptions: SimulatorOptions = {
  seed: 1,
  corruptEvery: 0,
  garbageEvery: 0,
  serialNumber: "SIM0000001",
};

/**
 * A simulated device, free of I/O: the runner feeds it received bytes and ticks, and writes
 * whatever it returns to the port. It speaks the device protocol byte for byte.
 */
export interface DeviceSimulator {
  /** Called when the port is open; returns the bytes the device sends first. */
  start(nowMs: number): Buffer[];
  /** Called with bytes from the host; returns the device's replies. */
  receive(chunk: Buffer, nowMs: number): Buffer[];
  /** Called every tickMs; returns unsolicited output, such as the 1 Hz Masimo line. */
  tick(nowMs: number): Buffer[];
  readonly tickMs: number;
  /** Counters for tests and the simulator's status line. */
  readonly stats: Readonly<Record<string, number>>;
}

export interface ProtocolFamily<P> {
  readonly id: string;
  createFramer(profile: P): Framer;
  createDecoder(profile: P): Decoder;
  createSession(profile: P, host: HostIdentity): Session;
  createSimulator(profile: P, options: SimulatorOptions): DeviceSimulator;
}
