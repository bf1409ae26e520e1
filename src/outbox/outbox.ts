/**
 * The durable outbox between the devices and the broker. Every record is appended here and
 * deleted only when the broker acknowledges it (QoS 1 PUBACK). Writes are batched: records wait
 * in memory for at most `flushIntervalMs`, then one transaction commits them and the deletions,
 * so an SD card gets one fsync per window instead of one per record.
 *
 * A record may be published while its commit is pending, so it reaches consumers at once. A
 * power cut then loses the records of the last window that the broker had not acknowledged,
 * as it would if they waited for their commit. A record acknowledged before its commit is never
 * written, and a window whose records are all in flight waits up to 100 ms for their PUBACKs,
 * so at a few records a second most windows write nothing. Sequence numbers are reserved on disk in blocks ahead of use, so a number published
 * before a crash is never given again; after a crash a device's numbering goes on at the end of
 * its reserved block, which leaves a gap.
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

/**
 * How long a window's commit waits when every pending record is in flight to the broker. A
 * PUBACK on a healthy link takes milliseconds, and an acknowledged record needs no commit, so
 * at a few records a second most windows write nothing.
 */
const inFlightGraceMs = 100;

/** A commit that takes this long is logged, at most once a minute. */
const slowCommitMs = 100;

/**
 * Sequence numbers reserved on disk per device at a time. A flush tops the reservation up
 * when less than half is left, so a device that sends under this many records per window
 * never waits for a reservation of its own.
 */
export const seqBlock = 1024;

export class Outbox {
  private readonly store: OutboxStore;
  /** Records appended and not yet committed, oldest first; readable by the uplink already. */
  private pending: StoredRecord[] = [];
  private pendingBytes = 0;
  /** Pending records the broker acknowledged before their commit; they are never written. */
  private readonly acknowledgedPending = new Set<number>();
  /** The id of the newest committed record; every pending record has a larger one. */
  private committedMaxId: number;
  private nextId: number;
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
  /** Per device, the first sequence number not reserved on disk. */
  private readonly reservedSeq: Map<string, number>;
  private timer: NodeJS.Timeout | undefined;
  private storedBytes: number;
  private storedRecords: number;
  private oldestCreatedMs: number | null;
  private droppedCount = 0;
  private listeners: (() => void)[] = [];
  private appendScheduled = false;
  /** True while a window's commit waits for the acknowledgements of records in flight. */
  private waitingForAcks = false;
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
    this.reservedSeq = new Map(this.nextSeq);
    const stats = this.store.stats();
    this.committedMaxId = stats.maxId;
    this.nextId = this.store.lastId() + 1;
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

  /**
   * Registers a listener called when records were appended: once per turn of the event loop,
   * after the appends of that turn, so a chunk of many frames is read in one go.
   */
  onAppend(listener: () => void): void {
    this.listeners.push(listener);
  }

  onDrop(listener: (notice: DropNotice) => void): void {
    this.dropListeners.push(listener);
  }

  /**
   * Returns the device's next sequence number. When the device has used up its reserved
   * block, a new block is committed first, so the number is never given again after a crash.
   */
  takeSeq(deviceId: string): number {
    const seq = this.nextSeq.get(deviceId) ?? 1;
    if (seq >= (this.reservedSeq.get(deviceId) ?? 1)) this.reserve(new Map([[deviceId, seq]]));
    this.nextSeq.set(deviceId, seq + 1);
    return seq;
  }

  /**
   * Reserves a block of sequence numbers for each device that has none left, in one commit,
   * so the first record of each device does not wait for a commit of its own.
   */
  reserveSeqs(deviceIds: readonly string[]): void {
    const starts = new Map<string, number>();
    for (const deviceId of deviceIds) {
      const next = this.nextSeq.get(deviceId) ?? 1;
      if (next >= (this.reservedSeq.get(deviceId) ?? 1)) starts.set(deviceId, next);
    }
    if (starts.size > 0) this.reserve(starts);
  }

  /** Appends a record, readable at once; returns it with its id. */
  append(record: NewRecord): StoredRecord {
    const stored = { ...record, id: this.nextId++, bytes: recordBytes(record) };
    this.pending.push(stored);
    this.pendingBytes += stored.bytes;
    this.notifyAppended();
    if (this.pending.length >= maxPendingRecords) {
      this.flush();
      return stored;
    }
    this.timer ??= setTimeout(() => this.flushWindow(), this.options.flushIntervalMs);
    return stored;
  }

  /** Marks a record acknowledged (or refused) by the broker; it is deleted in the next commit. */
  acknowledge(record: StoredRecord): void {
    this.offered.delete(record.id);
    if (this.deleting.has(record.id)) return;
    this.deleting.add(record.id);
    if (record.id > this.committedMaxId) {
      // Still pending: the next commit leaves it out, as if written and deleted at once.
      this.acknowledgedPending.add(record.id);
      this.pendingBytes -= record.bytes;
      this.trimAcknowledged();
      return;
    }
    this.deletions.push(record.id);
    this.deletedBytes += record.bytes;
    this.timer ??= setTimeout(() => this.flushWindow(), this.options.flushIntervalMs);
  }

  /**
   * Returns records after `afterId` that are not being deleted, oldest first: committed ones,
   * then pending ones. Protects them from the bounds until they are acknowledged or released.
   */
  readAfter(afterId: number, limit: number): StoredRecord[] {
    const committed = afterId < this.committedMaxId ? this.store.readAfter(afterId, limit) : [];
    const records = committed.filter((record) => !this.deleting.has(record.id));
    for (let index = firstAfter(this.pending, afterId); index < this.pending.length; index++) {
      if (records.length >= limit) break;
      const record = this.pending[index] as StoredRecord;
      if (!this.deleting.has(record.id)) records.push(record);
    }
    for (const record of records) this.offered.add(record.id);
    return records;
  }

  /** Gives a record read with readAfter back, for example when its publish failed. */
  release(record: StoredRecord): void {
    this.offered.delete(record.id);
  }

  /**
   * Ends a flush window: commits at once, unless every pending record is in flight, in which
   * case the commit waits inFlightGraceMs for their acknowledgements, once per window.
   */
  private flushWindow(): void {
    this.timer = undefined;
    const inFlight = this.pending.every(
      (record) => this.offered.has(record.id) || this.acknowledgedPending.has(record.id),
    );
    if (inFlight && !this.waitingForAcks) {
      this.waitingForAcks = true;
      this.timer = setTimeout(
        () => this.flushWindow(),
        Math.min(inFlightGraceMs, this.options.flushIntervalMs),
      );
      return;
    }
    this.flush();
  }

  /**
   * Commits what is pending, then applies the size and age bounds. Returns false when the
   * commit failed; the records then stay pending in memory for the next attempt.
   */
  flush(): boolean {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waitingForAcks = false;
    const records = this.refuseIfFull(this.withoutAcknowledged());
    const deletions = this.deletions;
    const reservations = this.reservationsDue();
    if (records.length === 0 && deletions.length === 0 && reservations.size === 0) {
      this.pending = [];
      this.pendingBytes = 0;
      return true;
    }
    const startedMs = this.monotonicMs();
    try {
      this.store.commit(records, reservations, deletions);
    } catch (error) {
      this.commitFailed(records, error);
      return false;
    }
    this.warnIfSlow(this.monotonicMs() - startedMs, records.length);
    for (const [deviceId, reserved] of reservations) this.reservedSeq.set(deviceId, reserved);
    this.pending = [];
    this.pendingBytes = 0;
    this.deletions = [];
    this.lastCommitError = undefined;
    for (const id of deletions) this.deleting.delete(id);
    this.committedMaxId = Math.max(this.committedMaxId, records.at(-1)?.id ?? 0);
    this.storedRecords += records.length - deletions.length;
    this.storedBytes += records.reduce((sum, record) => sum + record.bytes, 0) - this.deletedBytes;
    this.deletedBytes = 0;
    this.enforceBounds();
    this.oldestCreatedMs = this.store.oldestCreatedMs();
    return true;
  }

  /**
   * Drops acknowledged records from the front of the pending ones. Acknowledgements come in
   * order, so this frees most records within milliseconds instead of at the next commit, and
   * they die young rather than fill the old generation of the JavaScript heap.
   */
  private trimAcknowledged(): void {
    let count = 0;
    while (count < this.pending.length) {
      const id = (this.pending[count] as StoredRecord).id;
      if (!this.acknowledgedPending.delete(id)) break;
      this.deleting.delete(id);
      count++;
    }
    if (count > 0) this.pending.splice(0, count);
  }

  /**
   * Warns about a commit that held the event loop: node:sqlite commits synchronously, and an
   * fsync on a worn SD card can take hundreds of milliseconds, which delays every device.
   */
  private warnIfSlow(durationMs: number, records: number): void {
    if (durationMs < slowCommitMs) return;
    this.warnings.warn("slow-commit", "outbox commit was slow; the event loop waited for it", {
      durationMs: Math.round(durationMs),
      records,
      file: this.options.file,
    });
  }

  /** Takes the records acknowledged before their commit out of the pending ones. */
  private withoutAcknowledged(): StoredRecord[] {
    if (this.acknowledgedPending.size === 0) return this.pending;
    const records = this.pending.filter((record) => !this.acknowledgedPending.has(record.id));
    for (const id of this.acknowledgedPending) this.deleting.delete(id);
    this.acknowledgedPending.clear();
    return records;
  }

  /** New reservation limits for devices with less than half a block left. */
  private reservationsDue(): Map<string, number> {
    const due = new Map<string, number>();
    for (const [deviceId, next] of this.nextSeq) {
      if ((this.reservedSeq.get(deviceId) ?? 1) - next < seqBlock / 2) {
        due.set(deviceId, next + seqBlock);
      }
    }
    return due;
  }

  /** Commits a new block of sequence numbers for each device, starting at the given number. */
  private reserve(starts: ReadonlyMap<string, number>): void {
    const limits = new Map([...starts].map(([deviceId, seq]) => [deviceId, seq + seqBlock]));
    try {
      this.store.saveSequences(limits);
    } catch (error) {
      // The agent goes on. A number given out before the next successful reservation could be
      // given again if the agent crashes first; each flush retries.
      this.warnings.warn(`reserve:${messageOf(error)}`, "outbox cannot reserve sequence numbers", {
        error: messageOf(error),
        file: this.options.file,
      });
      return;
    }
    for (const [deviceId, limit] of limits) this.reservedSeq.set(deviceId, limit);
  }

  private notifyAppended(): void {
    if (this.appendScheduled) return;
    this.appendScheduled = true;
    queueMicrotask(() => {
      this.appendScheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  /**
   * Keeps the batch in memory when a commit fails (disk full, card read-only) and retries it
   * at the next window, so the agent goes on. Past maxPendingRecords the oldest are dropped
   * and counted, because memory is the only place left for them.
   */
  private commitFailed(records: StoredRecord[], error: unknown): void {
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
    this.pendingBytes = this.pending.reduce((sum, record) => sum + record.bytes, 0);
    this.warnings.warn(
      `commit:${this.lastCommitError}`,
      "outbox commit failed; records wait in memory",
      {
        error: this.lastCommitError,
        file: this.options.file,
        pending: this.pending.length,
      },
    );
    this.timer ??= setTimeout(() => this.flushWindow(), this.options.flushIntervalMs);
  }

  /**
   * Returns the outbox's figures. Records and bytes count the records not yet acknowledged,
   * so one whose deletion waits for the next commit no longer counts.
   */
  stats() {
    const records =
      this.storedRecords -
      this.deletions.length +
      this.pending.length -
      this.acknowledgedPending.size;
    // The oldest committed record's time is read at each commit, so after a drain it can
    // belong to a record whose deletion is not committed yet.
    const oldestCreatedMs =
      records === 0 ? undefined : (this.oldestCreatedMs ?? this.pending[0]?.createdMs);
    return {
      records,
      bytes: this.storedBytes - this.deletedBytes + this.pendingBytes,
      fileBytes: this.store.fileBytes(),
      oldestAgeMs: oldestCreatedMs === undefined ? null : Date.now() - oldestCreatedMs,
      droppedRecords: this.droppedCount,
      lastCommitError: this.lastCommitError ?? null,
    };
  }

  /**
   * Commits what is pending and saves each device's exact next sequence number, so the next
   * run goes on without a gap, then closes the database.
   */
  close(): void {
    this.flush();
    try {
      this.store.saveSequences(this.nextSeq);
    } catch (error) {
      this.log.warn("outbox cannot save sequence numbers; the next run skips ahead", {
        error: messageOf(error),
        file: this.options.file,
      });
    }
    this.store.close();
  }

  /** With the refuse-new policy, drops new records that do not fit. */
  private refuseIfFull(records: StoredRecord[]): StoredRecord[] {
    if (this.options.whenFull !== "refuse-new") return records;
    let room = this.options.maxBytes - this.storedBytes;
    const kept: StoredRecord[] = [];
    for (const record of records) {
      const bytes = record.bytes;
      // Alarms and audit records are admitted past the bound: they are small, and an alarm
      // reports the drop. A record already handed to the uplink is on its way, so dropping it
      // would only lose its copy on disk.
      if (bytes <= room || isKeptTopic(record.topic) || this.offered.has(record.id)) {
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

/** Returns the index of the first record with an id above `afterId` in records sorted by id. */
function firstAfter(records: readonly StoredRecord[], afterId: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((records[middle]?.id ?? Infinity) > afterId) high = middle;
    else low = middle + 1;
  }
  return low;
}
