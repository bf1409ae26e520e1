/** Small pieces every device simulator uses. */
import type { DeviceRecord, SessionEvent } from "./types.js";

/** Returns true on every `period`-th count, for fault options such as corruptEvery (0 = never). */
export function everyNth(period: number, count: number): boolean {
  return period > 0 && count % period === 0;
}

/** Returns the first session event among a decoded frame's records. */
export function findSessionEvent(records: readonly DeviceRecord[]): SessionEvent | undefined {
  for (const record of records) if (record.kind === "session") return record.event;
  return undefined;
}
