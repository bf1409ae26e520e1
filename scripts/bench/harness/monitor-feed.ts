/**
 * The benchmark's simulated monitors: a family's own simulator (IntelliVue for the ward) run in
 * this process on the device end of a virtual serial port. The harness decodes every chunk it
 * writes with the family's framer and decoder, so it knows when each wave sample and each
 * numerics frame left; the agent's records are matched by count, which holds because the
 * monitor sends nothing before the host associates. For the pass-through baseline, which
 * cannot speak the protocol, the harness associates and polls the simulator itself.
 */
import { SerialPort } from "serialport";
import { DevicePipeline } from "../../../src/device/pipeline.js";
import type { Profile } from "../../../src/profiles/schema.js";
import { defaultSimulatorOptions, type DeviceSimulator } from "../../../src/protocols/family.js";
import { codecFor } from "../../../src/protocols/registry.js";
import type { Decoder, Framer } from "../../../src/protocols/types.js";

/** When the frames of one written chunk left, with the counts up to and including them. */
interface Written {
  atMs: number;
  frames: number;
  numericsRecords: number;
  samples: Map<string, number>;
}

export class MonitorFeed {
  /** Written chunks in order; counts are cumulative. */
  readonly written: Written[] = [];
  framesWritten = 0;
  bytesWritten = 0;
  private numericsRecords = 0;
  private readonly samples = new Map<string, number>();
  private readonly simulator: DeviceSimulator;
  private readonly framer: Framer;
  private readonly decoder: Decoder;
  private readonly numericCodes: Set<string>;
  private host: DevicePipeline | undefined;
  private timers: NodeJS.Timeout[] = [];

  private constructor(
    private readonly port: SerialPort,
    private readonly profile: Profile,
  ) {
    const codec = codecFor(profile);
    this.simulator = codec.createSimulator(defaultSimulatorOptions);
    this.framer = codec.createFramer();
    this.decoder = codec.createDecoder();
    this.numericCodes = new Set(Object.keys(profile.measurements));
  }

  static async open(path: string, profile: Profile): Promise<MonitorFeed> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(error) : resolve())),
    );
    port.on("error", () => undefined);
    return new MonitorFeed(port, profile);
  }

  /** Starts the monitor; with `selfHosted` the harness, not the port, is its host. */
  start(selfHosted: boolean): void {
    const now = () => performance.now();
    this.send(this.simulator.start(now()));
    this.timers.push(
      setInterval(() => this.send(this.simulator.tick(now())), this.simulator.tickMs),
    );
    if (!selfHosted) {
      this.port.on("data", (chunk: Buffer) => this.send(this.simulator.receive(chunk, now())));
      return;
    }
    const host = new DevicePipeline(codecFor(this.profile), this.profile, {
      name: "BENCH",
      revision: "1",
    });
    this.host = host;
    this.toSimulator(host.open(now()).map((item) => item.bytes));
    this.timers.push(
      setInterval(() => this.toSimulator(host.tick(now()).map((item) => item.bytes)), 250),
    );
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  async close(): Promise<void> {
    this.stop();
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  /** Returns when the chunk holding frame `count` (1 or more) was written. */
  frameWrittenAt(count: number): number | undefined {
    return this.written.find((w) => w.frames >= count)?.atMs;
  }

  /** Returns when the chunk holding numerics record `count` (1 or more) was written. */
  numericsWrittenAt(count: number): number | undefined {
    return this.written.find((w) => w.numericsRecords >= count)?.atMs;
  }

  get numericsRecordsWritten(): number {
    return this.numericsRecords;
  }

  /** Returns when the chunk holding sample `count` (1 or more) of a wave was written. */
  sampleWrittenAt(deviceCode: string, count: number): number | undefined {
    return this.written.find((w) => (w.samples.get(deviceCode) ?? 0) >= count)?.atMs;
  }

  /** Samples written per wave code. */
  samplesWritten(): Map<string, number> {
    return new Map(this.samples);
  }

  private toSimulator(chunks: Buffer[]): void {
    const now = performance.now();
    for (const chunk of chunks) this.send(this.simulator.receive(chunk, now));
  }

  private send(chunks: Buffer[]): void {
    if (chunks.length === 0) return;
    const bytes = Buffer.concat(chunks);
    this.count(bytes);
    const entry: Written = {
      atMs: NaN,
      frames: this.framesWritten,
      numericsRecords: this.numericsRecords,
      samples: new Map(this.samples),
    };
    this.written.push(entry);
    this.bytesWritten += bytes.length;
    this.port.write(bytes, () => (entry.atMs = performance.now()));
    // The self-hosted monitor hears the harness's replies to what it sent, as over a cable.
    const host = this.host;
    if (host !== undefined) {
      const outgoing = host.ingest(bytes, performance.now()).outgoing;
      if (outgoing.length > 0) this.toSimulator(outgoing.map((item) => item.bytes));
    }
  }

  /**
   * Counts the frames, numerics records and wave samples in bytes about to be written. The
   * agent publishes one observation record per numerics record with a mapped value.
   */
  private count(bytes: Buffer): void {
    for (const event of this.framer.push(bytes)) {
      if (event.kind !== "frame") continue;
      this.framesWritten++;
      const decoded = this.decoder(event.bytes);
      if (!decoded.ok) continue;
      for (const record of decoded.records) {
        if (record.kind === "wave") {
          const before = this.samples.get(record.deviceCode) ?? 0;
          this.samples.set(record.deviceCode, before + record.samples.length);
        }
        if (
          record.kind === "numerics" &&
          record.values.some((value) => this.numericCodes.has(value.deviceCode))
        ) {
          this.numericsRecords++;
        }
      }
    }
  }
}
