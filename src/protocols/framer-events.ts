/** The event list a framer builds during one push or reset. */
import type { DiscardReason, FramerEvent } from "./types.js";

/**
 * Events of one push, merging adjacent discards that share a reason. Oversize discards are
 * never merged, because each stands for one frame and the pipeline counts them as frames.
 */
export class FramerEventList {
  readonly list: FramerEvent[] = [];

  frame(bytes: Buffer): void {
    this.list.push({ kind: "frame", bytes });
  }

  discard(byteCount: number, reason: DiscardReason): void {
    if (byteCount === 0) return;
    const last = this.list.at(-1);
    if (last?.kind === "discard" && last.reason === reason && reason !== "oversize") {
      last.byteCount += byteCount;
      return;
    }
    this.list.push({ kind: "discard", byteCount, reason });
  }
}
