/**
 * The benchmark's subscriber: one mqtt.js client over mutual TLS that notes when each record
 * arrived and which device frame it came from, for the agent's observation and alarm topics and
 * for the pass-through program's raw lines.
 */
import { readFileSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import type { DevPki } from "../../../src/pki/dev-ca.js";
import { frameOf, frameOfLine } from "./feed.js";

export type RecordKind = "numerics" | "alarm" | "wave" | "line";

/**
 * One record received. `frame` is the frame number it came from (1 or more); for a monitor
 * it is the count of such records so far, and for a wave segment the count of that wave's
 * samples so far, up to and including the segment's last.
 */
export interface Arrival {
  kind: RecordKind;
  frame: number;
  seq: number | null;
  atMs: number;
  /** The wave's device code, for a wave segment. */
  code?: string;
  /** True for the second and later segments of one wave message: the same record. */
  sameRecord?: true;
}

/** How records name their frame: Masimo lines by their values, monitor records by count. */
export type FeedKind = "lines" | "monitor";

const bpmCode = 149530;
const piCode = 150488;

interface ObservationBody {
  seq: number;
  observations: { mdcCode: number; value: number | null }[];
}

interface AlarmBody {
  seq: number;
  alarmCode: string;
}

export class Receiver {
  /** Arrivals per device id, in arrival order. */
  readonly arrivals = new Map<string, Arrival[]>();
  /** Frame of each observation per device and seq, to place the alarm that follows it. */
  private readonly frameBySeq = new Map<string, Map<number, number>>();
  unknownMessages = 0;
  firstRecordAtMs: number | undefined;

  /** Per device and key ("obs", "line", or "wave:<code>"), the count received so far. */
  private readonly counts = new Map<string, number>();

  private constructor(
    private readonly client: MqttClient,
    private readonly feedKind: FeedKind,
  ) {
    client.on("message", (topic, payload) => this.receive(topic, payload));
  }

  static async connect(url: string, pki: DevPki, feedKind: FeedKind): Promise<Receiver> {
    const identity = pki.clients.dashboard;
    if (identity === undefined) throw new Error("the PKI has no client named dashboard");
    const client = mqtt.connect(url, {
      ca: readFileSync(pki.ca.cert),
      cert: readFileSync(identity.cert),
      key: readFileSync(identity.key),
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: `bench-subscriber-${process.pid}`,
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    const records = ["obs", "alarm", "wave"].map((kind) => `iomt/v1/+/+/devices/+/${kind}`);
    await client.subscribeAsync(records, { qos: 1 });
    await client.subscribeAsync("bench/pass-through/+", { qos: 1 });
    return new Receiver(client, feedKind);
  }

  /** Arrivals from `device` so far: records, and each segment of a wave message. */
  count(device: string): number {
    return this.arrivals.get(device)?.length ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const list of this.arrivals.values()) sum += list.length;
    return sum;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }

  private receive(topic: string, payload: Buffer): void {
    const atMs = performance.now();
    const parts = topic.split("/");
    const device = parts[0] === "bench" ? parts[2] : parts[5];
    let arrivals: Arrival[];
    if (this.feedKind === "monitor") {
      arrivals = this.monitorArrivals(device ?? "", parts, payload, atMs);
    } else {
      const arrival =
        parts[0] === "bench"
          ? this.lineArrival(payload, atMs)
          : this.agentArrival(parts, payload, atMs);
      arrivals = arrival === undefined ? [] : [arrival];
    }
    const [arrival] = arrivals;
    if (arrival === undefined || device === undefined) {
      this.unknownMessages++;
      return;
    }
    this.firstRecordAtMs ??= atMs;
    let list = this.arrivals.get(device);
    if (list === undefined) this.arrivals.set(device, (list = []));
    list.push(...arrivals);
    if (arrival.kind === "numerics" && arrival.seq !== null) {
      let bySeq = this.frameBySeq.get(device);
      if (bySeq === undefined) this.frameBySeq.set(device, (bySeq = new Map<number, number>()));
      bySeq.set(arrival.seq, arrival.frame);
    }
  }

  /**
   * Counts a monitor's records: observations, wave samples per wave, baseline frames. A wave
   * message gives one arrival per segment.
   */
  private monitorArrivals(
    device: string,
    parts: string[],
    payload: Buffer,
    atMs: number,
  ): Arrival[] {
    const next = (key: string, by: number) => {
      const count = (this.counts.get(`${device}\n${key}`) ?? 0) + by;
      this.counts.set(`${device}\n${key}`, count);
      return count;
    };
    if (parts[0] === "bench") return [{ kind: "line", frame: next("line", 1), seq: null, atMs }];
    const body = JSON.parse(payload.toString("utf8")) as {
      seq: number;
      segments?: { deviceCode: string; samples: unknown[] }[];
    };
    if (parts[6] === "obs")
      return [{ kind: "numerics", frame: next("obs", 1), seq: body.seq, atMs }];
    if (parts[6] === "wave") {
      return (body.segments ?? []).map(({ deviceCode: code, samples }, index) => ({
        kind: "wave",
        frame: next(`wave:${code}`, samples.length),
        seq: body.seq,
        atMs,
        code,
        ...(index > 0 ? { sameRecord: true } : {}),
      }));
    }
    return [{ kind: "alarm", frame: -1, seq: body.seq, atMs }];
  }

  private lineArrival(payload: Buffer, atMs: number): Arrival | undefined {
    const frame = frameOfLine(payload.toString("latin1"));
    return frame === undefined ? undefined : { kind: "line", frame, seq: null, atMs };
  }

  private agentArrival(parts: string[], payload: Buffer, atMs: number): Arrival | undefined {
    const device = parts[5] ?? "";
    if (parts[6] === "obs") {
      const body = JSON.parse(payload.toString("utf8")) as ObservationBody;
      const value = (code: number) => body.observations.find((o) => o.mdcCode === code)?.value;
      const bpm = value(bpmCode);
      const pi = value(piCode);
      if (typeof bpm !== "number" || typeof pi !== "number") return undefined;
      return { kind: "numerics", frame: frameOf(bpm, pi), seq: body.seq, atMs };
    }
    const body = JSON.parse(payload.toString("utf8")) as AlarmBody;
    // The agent publishes a frame's observation, then the alarm changes it caused.
    const frame = this.frameBySeq.get(device)?.get(body.seq - 1);
    if (body.alarmCode !== "pulse-search" || frame === undefined) {
      return { kind: "alarm", frame: -1, seq: body.seq, atMs };
    }
    return { kind: "alarm", frame, seq: body.seq, atMs };
  }
}
