/**
 * The three outputs of `replay`: a table, JSON lines and a test vector. The table and the
 * JSON lines are printed chunk by chunk and keep only counters, so their memory does not grow
 * with the capture. The vector must hold its bytes whole and is bounded instead.
 */
import { vectorYaml } from "../capture/vector.js";
import type { AlarmChange } from "../device/alarms.js";
import type { Measurement } from "../device/measurements.js";
import type { LinkCounters } from "../device/pipeline.js";
import type { WaveSegment } from "../device/waves.js";
import { GatewayError } from "../errors.js";
import type { Profile } from "../profiles/schema.js";
import {
  observedResult,
  replayChunks,
  ReplayRun,
  type ReplayChunk,
  type ReplayStep,
} from "../profiles/vectors.js";
import type { ReplayOptions } from "./replay.js";

/**
 * Maximum device input of a vector: about 68 s at 9600 baud 8N1, already far more than a
 * vector pasted into a profile should have.
 */
export const maxVectorBytes = 65536;

/** Decode errors printed in the table; the summary counts all of them. */
const maxShownErrors = 10;

export interface ReplayRenderer {
  /** Decodes device bytes that arrived at `atMs`; returns the text to print for them. */
  chunk(bytes: Uint8Array, atMs: number): string;
  /** Returns the rest of the output, with the bytes the capture recorded as written. */
  finish(bytesOut: number): string;
  readonly bytesIn: number;
}

export function replayRenderer(
  profile: Profile,
  file: string,
  options: ReplayOptions,
): ReplayRenderer {
  if (options.vector === true) return new VectorRenderer(profile, options.name ?? file, file);
  return options.json === true ? new JsonRenderer(profile) : new TableRenderer(profile);
}

/** One decoded item of a replay, at its time in ms from the capture's start. */
type ReplayItem =
  | { ms: number; kind: "observation"; measurement: Measurement; deviceTime?: string }
  | { ms: number; kind: "alarm"; alarm: AlarmChange }
  | { ms: number; kind: "wave"; segment: WaveSegment }
  | { ms: number; kind: "error"; error: GatewayError };

function itemsOf({ atMs: ms, result }: ReplayStep): ReplayItem[] {
  const items: ReplayItem[] = [];
  for (const batch of result.batches) {
    for (const measurement of batch.measurements) {
      const item: ReplayItem = { ms, kind: "observation", measurement };
      if (batch.deviceTime !== undefined) item.deviceTime = batch.deviceTime;
      items.push(item);
    }
  }
  for (const alarm of result.alarms) items.push({ ms, kind: "alarm", alarm });
  for (const segment of result.segments) items.push({ ms, kind: "wave", segment });
  for (const error of result.errors) items.push({ ms, kind: "error", error });
  return items;
}

/** The counters of a finished replay. */
interface ReplayTotals {
  counters: LinkCounters;
  /** Bytes of an incomplete frame still in the framer at the end of the capture. */
  bufferedBytes: number;
  /** Bytes the capture recorded as written to the device; replay writes none. */
  bytesOut: number;
  unmappedCodes: Record<string, number>;
}

/** Feeds a ReplayRun and counts the unmapped codes; the subclasses print the items. */
abstract class StreamingRenderer implements ReplayRenderer {
  private readonly run: ReplayRun;
  private readonly unmapped: Record<string, number> = {};
  private lastMs = 0;

  constructor(protected readonly profile: Profile) {
    this.run = new ReplayRun(profile);
  }

  get bytesIn(): number {
    return this.run.counters.bytesIn;
  }

  chunk(bytes: Uint8Array, atMs: number): string {
    this.lastMs = atMs;
    const step = this.run.ingest({ bytes, atMs });
    for (const code of step.result.unmapped) this.unmapped[code] = (this.unmapped[code] ?? 0) + 1;
    return itemsOf(step)
      .map((item) => this.render(item))
      .join("");
  }

  finish(bytesOut: number): string {
    const { lastSegments, counters, bufferedBytes } = this.run.finish();
    const last = lastSegments.map((segment) => ({
      ms: this.lastMs,
      kind: "wave" as const,
      segment,
    }));
    const items = last.map((item) => this.render(item)).join("");
    return (
      items + this.summary({ counters, bufferedBytes, bytesOut, unmappedCodes: this.unmapped })
    );
  }

  protected abstract render(item: ReplayItem): string;
  protected abstract summary(totals: ReplayTotals): string;
}

class JsonRenderer extends StreamingRenderer {
  protected render(item: ReplayItem): string {
    return `${JSON.stringify(jsonOf(item))}\n`;
  }

  protected summary(totals: ReplayTotals): string {
    const { counters, bufferedBytes, bytesOut, unmappedCodes } = totals;
    const line = { kind: "summary", ...counters, bytesOut, bufferedBytes, unmappedCodes };
    return `${JSON.stringify(line)}\n`;
  }
}

function jsonOf(item: ReplayItem): Record<string, unknown> {
  switch (item.kind) {
    case "observation": {
      const { deviceCode, mdcCode, mdcRefId, value, unit, absentReason } = item.measurement;
      return {
        ms: item.ms,
        kind: item.kind,
        deviceCode,
        mdcCode,
        mdcRefId,
        value,
        unit,
        ...(absentReason === undefined ? {} : { absentReason }),
        ...(item.deviceTime === undefined ? {} : { deviceTime: item.deviceTime }),
      };
    }
    case "alarm":
      return { ms: item.ms, kind: item.kind, ...item.alarm };
    case "wave": {
      const { deviceCode, mdcCode, mdcRefId, unit, samplePeriodMs, samples } = item.segment;
      return {
        ms: item.ms,
        kind: item.kind,
        deviceCode,
        mdcCode,
        mdcRefId,
        unit,
        samplePeriodMs,
        samples,
      };
    }
    case "error":
      return { ms: item.ms, kind: item.kind, code: item.error.code, message: item.error.message };
  }
}

/**
 * Column widths of the table. Rows are printed as they are decoded, so the widths are fixed
 * in advance and a longer cell pushes the rest of its row to the right.
 */
const columnWidths = [9, 18, 13, 6];

function tableRow(cells: string[]): string {
  const padded = cells.map((cell, column) => {
    const width = columnWidths[column] ?? 0;
    return column === 0 ? cell.padStart(width) : cell.padEnd(width);
  });
  return `${padded.join("  ").trimEnd()}\n`;
}

class TableRenderer extends StreamingRenderer {
  private headerPrinted = false;
  private readonly errors: string[] = [];
  private errorCount = 0;
  private readonly waveSamples = new Map<string, number>();

  protected render(item: ReplayItem): string {
    const time = (item.ms / 1000).toFixed(3);
    if (item.kind === "wave") {
      const key = `${item.segment.deviceCode} (${item.segment.mdcRefId})`;
      this.waveSamples.set(key, (this.waveSamples.get(key) ?? 0) + item.segment.samples.length);
      return "";
    }
    if (item.kind === "error") {
      this.errorCount++;
      if (this.errors.length < maxShownErrors) this.errors.push(`${time}  ${item.error.message}`);
      return "";
    }
    let row: string[];
    if (item.kind === "observation") {
      const m = item.measurement;
      const value = m.value === null ? `(${m.absentReason ?? "absent"})` : String(m.value);
      row = [time, m.deviceCode, value, m.unit, `${m.mdcRefId} ${m.mdcCode}`];
    } else {
      const { alarmCode, state, text } = item.alarm;
      row = [time, alarmCode, `alarm ${state}`, "", text];
    }
    return this.printHeader() + tableRow(row);
  }

  private printHeader(): string {
    if (this.headerPrinted) return "";
    this.headerPrinted = true;
    return tableRow(["time s", "code", "value", "unit", "measurement"]);
  }

  protected summary(totals: ReplayTotals): string {
    const { counters: c, bufferedBytes, bytesOut, unmappedCodes } = totals;
    const errors = [...this.errors];
    if (this.errorCount > maxShownErrors) {
      errors.push(`... and ${this.errorCount - maxShownErrors} more errors`);
    }
    const unmapped = Object.entries(unmappedCodes).map(([code, count]) => `${code} x${count}`);
    const waves = [...this.waveSamples].map(([key, count]) => `${key} ${count}`);
    const lines = [
      ...(errors.length > 0 ? ["", ...errors] : []),
      "",
      c.bytesIn === 0
        ? `${this.profile.id}@${this.profile.version}: no device bytes in this capture`
        : `${this.profile.id}@${this.profile.version}: ${c.bytesIn} bytes in, ${c.frames} frames, ` +
          `${c.checksumErrors} checksum errors, ${c.decodeErrors} decode errors, ` +
          `${c.discardedBytes} bytes discarded, ${bufferedBytes} bytes of an incomplete frame at the end`,
      `bytes written to the device (as recorded): ${bytesOut}`,
      `unmapped codes: ${unmapped.length === 0 ? "none" : unmapped.join(", ")}`,
      `wave samples: ${waves.length === 0 ? "none" : waves.join(", ")}`,
    ];
    return `${lines.join("\n")}\n`;
  }
}

/** Collects the device bytes, up to maxVectorBytes, and prints the vector at the end. */
class VectorRenderer implements ReplayRenderer {
  private readonly chunks: ReplayChunk[] = [];
  bytesIn = 0;

  constructor(
    private readonly profile: Profile,
    private readonly name: string,
    private readonly file: string,
  ) {}

  chunk(bytes: Uint8Array, atMs: number): string {
    this.bytesIn += bytes.length;
    if (this.bytesIn > maxVectorBytes) {
      throw new GatewayError(
        "CAPTURE_TOO_LARGE",
        `${this.file} has more than ${maxVectorBytes} bytes of device input, the most --vector ` +
          `takes; record a shorter capture for the vector with "iomt-gateway capture ` +
          `--duration SECONDS" or "--max-bytes BYTES"`,
      );
    }
    this.chunks.push({ bytes, atMs });
    return "";
  }

  finish(): string {
    const outcome = replayChunks(this.profile, this.chunks);
    const bytes = Buffer.concat(this.chunks.map((chunk) => chunk.bytes));
    return vectorYaml(this.name, bytes, observedResult(outcome));
  }
}
