/**
 * Per-device sequence numbers that only grow, also across restarts. Numbers are reserved on
 * disk in blocks, so an SD card gets one small write per block instead of one per record; after
 * a restart numbering resumes at the end of the last reserved block, leaving a gap of at most
 * `blockSize` that consumers must not read as lost data.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { GatewayError } from "../errors.js";

export class SequenceCounter {
  private next: number;
  private reservedUpTo: number;
  /** The last failure to write the sequence file, if the last write failed. */
  lastWriteError: string | undefined;
  /** Called when writing the sequence file fails, for a log line. */
  onWriteError: ((message: string) => void) | undefined;

  constructor(
    private readonly file: string,
    private readonly blockSize = 1000,
  ) {
    this.next = readReserved(file);
    this.reservedUpTo = this.next;
  }

  /** Returns the next number, reserving a new block on disk first when needed. */
  take(): number {
    if (this.next >= this.reservedUpTo) {
      this.reservedUpTo = this.next + this.blockSize;
      try {
        writeAtomically(this.file, JSON.stringify({ reservedUpTo: this.reservedUpTo }));
        this.lastWriteError = undefined;
      } catch (error) {
        // A full or read-only card must not stop the data: numbering goes on in memory and the
        // next block retries the write. After a restart, numbers of this block may repeat.
        this.lastWriteError = error instanceof Error ? error.message : String(error);
        this.onWriteError?.(this.lastWriteError);
      }
    }
    return this.next++;
  }
}

export function sequenceFile(dataDir: string, deviceId: string): string {
  const dir = join(dataDir, "sequence");
  mkdirSync(dir, { recursive: true });
  return join(dir, `${deviceId}.json`);
}

function readReserved(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 1;
    throw error;
  }
  let reserved: unknown;
  try {
    reserved = (JSON.parse(text) as { reservedUpTo?: unknown }).reservedUpTo;
  } catch {
    reserved = undefined;
  }
  if (typeof reserved === "number" && Number.isSafeInteger(reserved) && reserved >= 1)
    return reserved;
  // Starting again at 1 would make new records look older than published ones.
  throw new GatewayError(
    "STATE_DAMAGED",
    `sequence file ${file} is damaged (content ${JSON.stringify(text.slice(0, 60))}); ` +
      `write {"reservedUpTo": N} with N above the last sequence number consumers saw`,
  );
}

/** Writes to a temporary file, syncs it and renames it, so a power cut leaves old or new. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}
