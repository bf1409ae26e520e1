/**
 * Records one link's raw bytes to a capture file (format in file.ts) until a duration or a
 * size is reached, the link closes, or the caller stops it.
 *
 * The recorder writes to the device only what the profile's own session writes, and only when
 * `writes` is "session". A MEDIBUS device sends nothing until it is initialized and polled, so
 * its capture needs the session. A Masimo or Nonin device sends unasked, and its session writes
 * nothing, or only the select-format command of a Nonin profile with `session.selectFormat`.
 * With `writes: "none"` nothing is ever written, whatever the profile.
 */
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { DevicePipeline } from "../device/pipeline.js";
import { GatewayError, messageOf } from "../errors.js";
import type { Connector, LinkConnection } from "../link/types.js";
import type { Profile } from "../profiles/schema.js";
import type { HostIdentity } from "../protocols/family.js";
import { codecFor } from "../protocols/registry.js";
import type { Outgoing } from "../protocols/types.js";
import { dataLine, endLine, headerLine, type CaptureEnd } from "./file.js";

export interface RecordOptions {
  connector: Connector;
  profile: Profile;
  writes: "session" | "none";
  /** Stop after this long, in ms from the link opening. */
  durationMs: number;
  /** Stop when this many bytes (both directions) are recorded; the last chunk is cut to fit. */
  maxBytes: number;
  file: string;
  host: HostIdentity;
  /** Resolving stops the capture early, such as on Ctrl-C. */
  stopSignal?: Promise<void>;
}

export type CaptureSummary = Omit<CaptureEnd, "type">;

/** Opens the link, records until a bound is reached, and closes link and file. */
export async function recordCapture(options: RecordOptions): Promise<CaptureSummary> {
  const fd = openCaptureFile(options.file);
  let connection: LinkConnection;
  try {
    connection = await options.connector.connect();
  } catch (error) {
    // Nothing was recorded: remove the empty file so the same command can be run again.
    closeSync(fd);
    unlinkSync(options.file);
    throw error;
  }
  const startedAt = performance.now();
  const elapsed = () => performance.now() - startedAt;
  writeSync(
    fd,
    headerLine({
      profile: options.profile.id,
      profileVersion: options.profile.version,
      link: options.connector.description,
      writes: options.writes,
      startedAt: new Date().toISOString(),
    }),
  );
  const recorder = new Recorder(fd, connection, options, elapsed);
  const summary = await recorder.run();
  writeSync(fd, endLine(summary));
  closeSync(fd);
  return summary;
}

function openCaptureFile(file: string): number {
  try {
    // "wx": never overwrite an earlier capture by mistake.
    return openSync(file, "wx", 0o600);
  } catch (error) {
    throw new GatewayError(
      "CLI_USAGE",
      `cannot create the capture file ${file} (${messageOf(error)}); give a new file name`,
    );
  }
}

class Recorder {
  private bytesIn = 0;
  private bytesOut = 0;
  private done = false;
  private finish: (reason: CaptureSummary["reason"]) => void = () => undefined;
  private readonly pipeline: DevicePipeline | undefined;

  constructor(
    private readonly fd: number,
    private readonly connection: LinkConnection,
    private readonly options: RecordOptions,
    private readonly elapsed: () => number,
  ) {
    if (options.writes === "session") {
      const profile = options.profile;
      this.pipeline = new DevicePipeline(codecFor(profile), profile, options.host);
    }
  }

  run(): Promise<CaptureSummary> {
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      this.finish = (reason) => {
        if (this.done) return;
        this.done = true;
        // clearInterval also clears a setTimeout timer.
        for (const timer of timers) clearInterval(timer);
        this.connection.close("capture finished");
        resolve({ ms: this.elapsed(), reason, bytesIn: this.bytesIn, bytesOut: this.bytesOut });
      };
      this.connection.onData((chunk) => this.received(chunk));
      this.connection.onClose(() => this.finish("link closed"));
      timers.push(setTimeout(() => this.finish("duration"), this.options.durationMs));
      void this.options.stopSignal?.then(() => this.finish("stopped"));
      if (this.pipeline !== undefined) {
        const pipeline = this.pipeline;
        this.send(pipeline.open(this.elapsed()));
        timers.push(setInterval(() => this.send(pipeline.tick(this.elapsed())), pipeline.tickMs));
      }
    });
  }

  private received(chunk: Buffer): void {
    if (this.done) return;
    const room = this.options.maxBytes - this.bytesIn - this.bytesOut;
    const kept = chunk.subarray(0, Math.max(0, room));
    if (kept.length > 0) {
      writeSync(this.fd, dataLine(this.elapsed(), "in", kept));
      this.bytesIn += kept.length;
    }
    if (kept.length < chunk.length || room === kept.length) {
      this.finish("size");
      return;
    }
    if (this.pipeline !== undefined) {
      this.send(this.pipeline.ingest(kept, this.elapsed()).outgoing);
    }
  }

  /** Writes the session's bytes to the device and records them. */
  private send(outgoing: readonly Outgoing[]): void {
    for (const item of outgoing) {
      if (this.done) return;
      if (this.bytesIn + this.bytesOut + item.bytes.length > this.options.maxBytes) {
        this.finish("size");
        return;
      }
      this.connection.write(item.bytes);
      writeSync(this.fd, dataLine(this.elapsed(), "out", item.bytes, item.label));
      this.bytesOut += item.bytes.length;
    }
  }
}
