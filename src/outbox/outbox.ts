/**
 * The durable outbox between the devices and the broker. Every record is committed to disk
 * before it may be published and deleted only when the broker acknowledges it (QoS 1 PUBACK).
 * Writes are batched: records wait in memory for at most `flushIntervalMs`, then one
 * transaction commits them, the sequence counters and the deletions, so an SD card gets one
 * fsync per window instead of one per record. A power cut loses at most that window, which
 * no consumer has seen, since nothing is published before its commit.
 */
import { messageOf } from "../errors.js";
import { RateLimitedWarning, type Logger } from "../log.js";
import {
  isKeptTopic,
  OutboxStore,
  recordBytes,
  type Deleted,
  type NewRecord,
  type StoredRecord,
} from "./store.js";

export type FullPolicy = "drop-oldest" | "refuse-new";

export interface OutboxOptions {
  file: string;
  maxBytes: number;
  maxAgeMs: number;
  whenFull: FullPolicy;
  flushIntervalMs: number;
  /** Monotonic milliseconds; tests pass a fake. Default performance.now. */
  monotonicMs?: () => number;
}

export interface DropNotice {
  deviceId: string;
  count: number;
  reason: "outbox full" | "older than maxAgeMs" | "outbox cannot write";
}

/** Pending records that force a commit before the window ends, bounding memory in a burst. */
const maxPendingRecords = 5000;

export class Outbox {
  private readonly store: OutboxStore;
  private pending: NewRecord[] = [];
  private pendingBytes = 0;
  /** Bytes of acknowledged records whose deletion is not committed yet. */
  private deletedBytes = 0;
  private readonly warnings: RateLimitedWarning;
  private lastCommitError: string | undefined;
  private readonly monotonicMs: () => number;
  private readonly startedAtMonotonicMs: number;
  /** Records handed to the uplink and not yet settled; the bounds never delete them. */
  private readonly offered = new Set<number>();
  private deletions: number[] = [];
  private readonly deleting = new Set<number>();
  private readonly nextSeq: Map<string, number>;
  private readonly changedSequences = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private storedBytes: number;
  private storedRecords: number;
  private oldestCreatedMs: number | null;
  private droppedCount = 0;
  private listeners: (() => void)[] = [];
  private dropListeners: ((notice: DropNotice) => void)[] = [];
  /** Records with an id up to this were made by an earlier run: they are sent as replayed. */
  readonly startMaxId: number;

  constructor(
    private readonly options: OutboxOptions,
    private readonly log: Logger,
  ) {
    this.monotonicMs = options.monotonicMs ?? (() => performance.now());
    this.startedAtMonotonicMs = this.monotonicMs();
    this.store = new OutboxStore(options.file);
    this.warnings = new RateLimitedWarning(log, 60_000);
    this.nextSeq = this.store.sequences();
    const stats = this.store.stats();
    this.storedBytes = stats.bytes;
    this.storedRecords = stats.records;
    this.oldestCreatedMs = stats.oldestCreatedMs;
    this.startMaxId = stats.maxId;
    if (stats.records > 0) {
      log.info("outbox contains records from an earlier run; sending them first", {
        records: stats.records,
      });
    }
  }

  /** Registers a listener called after every commit that added records. */
  onCommit(listener: () => void): void {
    this.listeners.push(listener);
  }

  onDrop(listener: (notice: DropNotice) => void): void {
    this.dropListeners.push(listener);
  }

  /** Returns the device's next sequence number; committed together with its record. */
  takeSeq(deviceId: string): number {
    const seq = this.nextSeq.get(deviceId) ?? 1;
    this.nextSeq.set(deviceId, seq + 1);
    this.changedSequences.set(deviceId, seq + 1);
    return seq;
  }

  append(record: NewRecord): void {
    this.pending.push(record);
    this.pendingBytes += recordBytes(record);
    if (this.pending.length >= maxPendingRecords) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), this.options.flushIntervalMs);
  }

  /** Marks a record acknowledged (or refused) by the broker; it is deleted in the next commit. */
  acknowledge(record: StoredRecord): void {
    this.offered.delete(record.id);
    if (this.deleting.has(record.id)) return;
    this.deleting.add(record.id);
    this.deletions.push(record.id);
    this.deletedBytes += recordBytes(record);
    this.timer ??= setTimeout(() => this.flush(), this.options.flushIntervalMs);
  }

  /**
   * Returns committed records after `afterId` that are not being deleted, oldest first, and
   * protects them from the bounds until they are acknowledged or released.
   */
  readAfter(afterId: number, limit: number): StoredRecord[] {
    const records = this.store
      .readAfter(afterId, limit)
      .filter((record) => !this.deleting.has(record.id));
    for (const record of records) this.offered.add(record.id);
    return records;
  }

  /** Gives a record read with readAfter back, for example when its publish failed. */
  release(record: StoredRecord): void {
    this.offered.delete(record.id);
  }

  /**
   * Commits what is pending, then applies the size and age bounds. Returns false when the
   * commit failed; the records then stay pending in memory for the next attempt.
   */
  flush(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    const records = this.refuseIfFull(this.pending);
    const deletions = this.deletions;
    if (records.length === 0 && deletions.length === 0 && this.changedSequences.size === 0) {
      this.pending = [];
      return true;
    }
    try {
      this.store.commit(records, this.changedSequences, deletions);
    } catch (error) {
      this.commitFailed(records, error);
      return false;
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.deletions = [];
    this.lastCommitError = undefined;
    this.changedSequences.clear();
    for (const id of deletions) this.deleting.delete(id);
    this.storedRecords += records.length - deletions.length;
    this.storedBytes +=
      records.reduce((sum, record) => sum + recordBytes(record), 0) - this.deletedBytes;
    this.deletedBytes = 0;
    this.enforceBounds();
    this.oldestCreatedMs = this.store.oldestCreatedMs();
    if (records.length > 0) for (const listener of this.listeners) listener();
    return true;
  }

  /**
   * Keeps the batch in memory when a commit fails (disk full, card read-only) and retries it
   * at the next window, so the agent goes on. Past maxPendingRecords the oldest are dropped
   * and counted, because memory is the only place left for them.
   */
  private commitFailed(records: NewRecord[], error: unknown): void {
    this.lastCommitError = messageOf(error);
    this.pending = records;
    const excess = this.pending.length - maxPendingRecords;
    if (excess > 0) {
      const dropped = this.pending.splice(0, excess);
      const perDevice = new Map<string, number>();
      for (const record of dropped)
        perDevice.set(record.deviceId, (perDevice.get(record.deviceId) ?? 0) + 1);
      this.notifyDropped(perDevice, "outbox cannot write");
    }
    this.pendingBytes = this.pending.reduce((sum, record) => sum + recordBytes(record), 0);
    this.warnings.warn(
      `commit:${this.lastCommitError}`,
      "outbox commit failed; records wait in memory",
      {
        error: this.lastCommitError,
        file: this.options.file,
        pending: this.pending.length,
      },
    );
    this.timer ??= setTimeout(() => this.flush(), this.options.flushIntervalMs);
  }

  stats() {
    return {
      records: this.storedRecords + this.pending.length,
      bytes: this.storedBytes + this.pendingBytes,
      fileBytes: this.store.fileBytes(),
      oldestAgeMs: this.oldestCreatedMs === null ? null : Date.now() - this.oldestCreatedMs,
      droppedRecords: this.droppedCount,
      lastCommitError: this.lastCommitError ?? null,
    };
  }

  close(): void {
    this.flush();
    this.store.close();
  }

  /** With the refuse-new policy, drops new records that do not fit. */
  private refuseIfFull(records: NewRecord[]): NewRecord[] {
    if (this.options.whenFull !== "refuse-new") return records;
    let room = this.options.maxBytes - this.storedBytes;
    const kept: NewRecord[] = [];
    for (const record of records) {
      const bytes = recordBytes(record);
      // Alarms and audit records are admitted past the bound: they are small, and an alarm
      // reports the drop.
      if (bytes <= room || isKeptTopic(record.topic)) {
        kept.push(record);
        room -= bytes;
        continue;
      }
      this.notifyDropped(new Map([[record.deviceId, 1]]), "outbox full");
    }
    return kept;
  }

  private enforceBounds(): void {
    // Ages come from the wall clock, which a gateway without a real-time clock may step by
    // hours at boot. So records expire only once the agent itself has run for maxAgeMs.
    const runningMs = this.monotonicMs() - this.startedAtMonotonicMs;
    const oldest = this.store.oldestCreatedMs();
    if (
      runningMs >= this.options.maxAgeMs &&
      oldest !== null &&
      oldest < Date.now() - this.options.maxAgeMs
    ) {
      this.applyDeleted(
        this.store.deleteOlderThan(Date.now() - this.options.maxAgeMs, this.protectedIds()),
        "older than maxAgeMs",
      );
    }
    if (this.options.whenFull !== "drop-oldest") return;
    for (let round = 0; this.storedBytes > this.options.maxBytes && round < 100; round++) {
      const deleted = this.store.deleteOldestOfLargest(
        this.storedBytes - this.options.maxBytes,
        this.protectedIds(),
      );
      if (deleted.records === 0) break;
      this.applyDeleted(deleted, "outbox full");
    }
  }

  private protectedIds(): Set<number> {
    return new Set([...this.deleting, ...this.offered]);
  }

  private applyDeleted(deleted: Deleted, reason: DropNotice["reason"]): void {
    this.storedRecords -= deleted.records;
    this.storedBytes -= deleted.bytes;
    this.notifyDropped(deleted.perDevice, reason);
  }

  private notifyDropped(perDevice: Map<string, number>, reason: DropNotice["reason"]): void {
    for (const [deviceId, count] of perDevice) {
      this.droppedCount += count;
      this.warnings.warn(`${deviceId}:${reason}`, "outbox dropped records", {
        device: deviceId,
        count,
        reason,
        policy: this.options.whenFull,
        droppedRecords: this.droppedCount,
      });
      for (const listener of this.dropListeners) listener({ deviceId, count, reason });
    }
  }
}
