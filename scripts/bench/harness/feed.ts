/**
 * The benchmark's simulated devices: Masimo Radical-7 "ASCII 1" lines, written by this process
 * to the device end of a virtual serial port, so the harness knows when the last byte of every
 * frame left. Each line carries its frame number in values the profile maps, BPM (the number
 * modulo 300) and PI (the number divided by 300, as hundredths), so a subscriber can tell
 * which frame an observation came from, through the agent or through the pass-through program.
 * The exception bit 0x008 (pulse search) is set in frames 10 to 19 of every 20, so every 10th
 * frame changes it and the agent publishes an alarm record after that frame's observation.
 */
import { SerialPort } from "serialport";

/**
 * Frames per PI step. BPM stays below the profile's validRange maximum of 350 and PI below
 * 100 up to frame 3,000,000. The agent publishes a value outside its validRange as null, and
 * a null BPM or PI would hide which frame the observation came from.
 */
const framesPerPiStep = 300;

/** Formats frame `frame` (1 or more) as a CR LF terminated line. */
export function formatLine(frame: number, nowMs: number): string {
  const time = new Date(nowMs).toISOString();
  const deviceTime = `${time.slice(5, 7)}/${time.slice(8, 10)}/${time.slice(2, 4)} ${time.slice(11, 19)}`;
  const bpm = String(frame % framesPerPiStep).padStart(3, "0");
  const pi = (Math.floor(frame / framesPerPiStep) / 100).toFixed(2).padStart(5, "0");
  const exc = frame % 20 >= 10 ? "000008" : "000000";
  return (
    `${deviceTime} SN=0000012345 SPO2=097% BPM=${bpm} PI=${pi}% SPCO=01.0% SPMET=01.2% ` +
    `DESAT=-- PIDELTA=+-- PVI=014 ALARM=0000 EXC=${exc}\r\n`
  );
}

/** Returns the frame number encoded by formatLine from the BPM and PI values. */
export function frameOf(bpm: number, pi: number): number {
  return Math.round(pi * 100) * framesPerPiStep + bpm;
}

/** Returns the frame number of a raw line as formatLine wrote it, or undefined. */
export function frameOfLine(line: string): number | undefined {
  const match = / BPM=(\d{3}) PI=(\d\d\.\d\d)%/.exec(line);
  if (match === null) return undefined;
  return frameOf(Number(match[1]), Number(match[2]));
}

export interface FeedOptions {
  /** Bytes per second to write; 0 writes one line a second (a monitor's numerics). */
  bytesPerSecond: number;
}

/** One simulated device writing numbered lines; `writtenAt[n]` is when frame n was written. */
export class DeviceFeed {
  readonly writtenAt: number[] = [];
  framesWritten = 0;
  bytesWritten = 0;
  private timer: NodeJS.Timeout | undefined;
  private budget = 0;
  private lastTickMs = 0;

  private constructor(
    private readonly port: SerialPort,
    private readonly options: FeedOptions,
  ) {}

  static async open(path: string, options: FeedOptions): Promise<DeviceFeed> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((error) => (error ? reject(error) : resolve())),
    );
    port.on("error", () => undefined);
    return new DeviceFeed(port, options);
  }

  start(): void {
    this.lastTickMs = performance.now();
    if (this.options.bytesPerSecond === 0) {
      this.writeLines(1);
      this.timer = setInterval(() => this.writeLines(1), 1000);
      return;
    }
    // Paces the bytes as a UART at that rate would: whole lines as the byte budget allows.
    this.timer = setInterval(() => this.pace(), 10);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async close(): Promise<void> {
    this.stop();
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }

  private pace(): void {
    const now = performance.now();
    this.budget += ((now - this.lastTickMs) / 1000) * this.options.bytesPerSecond;
    this.lastTickMs = now;
    const lineBytes = formatLine(this.framesWritten + 1, Date.now()).length;
    const lines = Math.floor(this.budget / lineBytes);
    if (lines > 0) this.writeLines(lines);
  }

  private writeLines(count: number): void {
    const first = this.framesWritten + 1;
    const text = Array.from({ length: count }, (_, index) =>
      formatLine(first + index, Date.now()),
    ).join("");
    this.framesWritten += count;
    this.bytesWritten += text.length;
    this.budget -= text.length;
    this.port.write(Buffer.from(text, "latin1"), () => {
      const at = performance.now();
      for (let frame = first; frame < first + count; frame++) this.writtenAt[frame] = at;
    });
  }
}
