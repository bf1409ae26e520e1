/**
 * The outbox's durable store: one SQLite database (node:sqlite, built into Node 22.13 and 24,
 * so no native addon ships with the bundle) in WAL mode with synchronous=FULL, so a commit
 * survives a power cut once it returns.
 */
import { statSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { GatewayError, messageOf } from "../errors.js";

export interface StoredRecord {
  id: number;
  deviceId: string;
  seq: number;
  topic: string;
  /** The payload JSON without its `replayed` field, which is set when the record is sent. */
  body: string;
  createdMs: number;
  /** True when the broker was away as the record was made. */
  offline: boolean;
  /** Bytes the record counts for in the outbox's size bound, from recordBytes. */
  bytes: number;
}

export type NewRecord = Omit<StoredRecord, "id" | "bytes">;

/** Records deleted by a bound, per device, with their total bytes. */
export interface Deleted {
  perDevice: Map<string, number>;
  records: number;
  bytes: number;
}

/**
 * Topics whose records a full outbox keeps before observations: alarms and the audit trail.
 * keptSql is the same test in SQL.
 */
export function isKeptTopic(topic: string): boolean {
  return topic.endsWith("/alarm") || topic.endsWith("/audit");
}
const keptSql = "(topic LIKE '%/alarm' OR topic LIKE '%/audit')";

/** Bytes a record counts for in the outbox's size bound. */
export function recordBytes(record: { topic: string; body: string }): number {
  return Buffer.byteLength(record.body) + Buffer.byteLength(record.topic);
}

export class OutboxStore {
  private readonly db: DatabaseSync;
  private readonly insertRecord: StatementSync;
  private readonly saveSequence: StatementSync;
  private readonly deleteRecord: StatementSync;
  private readonly selectAfter: StatementSync;

  constructor(private readonly file: string) {
    try {
      this.db = new DatabaseSync(file);
      this.db.exec(`
      PRAGMA locking_mode = EXCLUSIVE;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA wal_autocheckpoint = 256;
      PRAGMA journal_size_limit = 1048576;
      CREATE TABLE IF NOT EXISTS records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device TEXT NOT NULL,
        seq INTEGER NOT NULL,
        topic TEXT NOT NULL,
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        offline INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS sequences (device TEXT PRIMARY KEY, next INTEGER NOT NULL);
      `);
    } catch (error) {
      throw openError(file, error);
    }
    this.insertRecord = this.db.prepare(
      "INSERT INTO records (id, device, seq, topic, body, created_ms, offline, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.saveSequence = this.db.prepare(
      "INSERT INTO sequences (device, next) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET next = excluded.next",
    );
    this.deleteRecord = this.db.prepare("DELETE FROM records WHERE id = ?");
    this.selectAfter = this.db.prepare(
      "SELECT id, device, seq, topic, body, created_ms, offline, bytes FROM records WHERE id > ? ORDER BY id LIMIT ?",
    );
  }

  /** Returns the next sequence number of every device, as last committed. */
  sequences(): Map<string, number> {
    const rows = this.db.prepare("SELECT device, next FROM sequences").all();
    return new Map(rows.map((row) => [String(row.device), Number(row.next)]));
  }

  /**
   * Commits new records, the sequence counters they used and the deletions of acknowledged
   * records in one transaction: one fsync for the whole batch. The records keep the ids the
   * outbox gave them when they were appended.
   */
  commit(
    records: readonly StoredRecord[],
    sequences: ReadonlyMap<string, number>,
    deletions: readonly number[],
  ): void {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const record of records) {
        this.insertRecord.run(
          record.id,
          record.deviceId,
          record.seq,
          record.topic,
          record.body,
          record.createdMs,
          record.offline ? 1 : 0,
          record.bytes,
        );
      }
      for (const [device, next] of sequences) this.saveSequence.run(device, next);
      for (const id of deletions) this.deleteRecord.run(id);
      this.db.exec("COMMIT");
    } catch (error) {
      // SQLite may have rolled back already (disk full); a second ROLLBACK would hide why.
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Saves sequence counters in a transaction of their own. */
  saveSequences(sequences: ReadonlyMap<string, number>): void {
    this.commit([], sequences, []);
  }

  /** Returns the largest record id ever used, also by records deleted since. */
  lastId(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'records'").get();
    return Math.max(Number(row?.seq ?? 0), this.stats().maxId);
  }

  /** Records after `afterId`, oldest first. */
  readAfter(afterId: number, limit: number): StoredRecord[] {
    return this.selectAfter.all(afterId, limit).map((row) => ({
      id: Number(row.id),
      deviceId: String(row.device),
      seq: Number(row.seq),
      topic: String(row.topic),
      body: String(row.body),
      createdMs: Number(row.created_ms),
      offline: Number(row.offline) === 1,
      bytes: Number(row.bytes),
    }));
  }

  stats(): { records: number; bytes: number; oldestCreatedMs: number | null; maxId: number } {
    const row = this.db
      .prepare(
        "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, MIN(created_ms) AS o, COALESCE(MAX(id), 0) AS m FROM records",
      )
      .get();
    return {
      records: Number(row?.n ?? 0),
      bytes: Number(row?.b ?? 0),
      oldestCreatedMs: row?.o === null || row?.o === undefined ? null : Number(row.o),
      maxId: Number(row?.m ?? 0),
    };
  }

  /**
   * Returns the creation time of the first record. Ids grow in creation order, give or take
   * the seconds by which a wave record's samples, whose time it takes, precede its append.
   */
  oldestCreatedMs(): number | null {
    const row = this.db.prepare("SELECT created_ms FROM records ORDER BY id LIMIT 1").get();
    return row === undefined ? null : Number(row.created_ms);
  }

  /**
   * Deletes records made before `createdBeforeMs`, except `keep`, by id: a record appended
   * a few seconds after an expired wave record goes with it.
   */
  deleteOlderThan(createdBeforeMs: number, keep: ReadonlySet<number>): Deleted {
    const rows = this.db
      .prepare(
        "SELECT id, device, bytes FROM records WHERE id <= (SELECT MAX(id) FROM records WHERE created_ms < ?) ORDER BY id LIMIT 1000",
      )
      .all(createdBeforeMs);
    return this.deleteRows(rows.filter((row) => !keep.has(Number(row.id))));
  }

  /**
   * Deletes the oldest records of the device that stores the most bytes, observations before
   * alarms, until `bytes` are freed, except `keep`. So a flooding device loses its own records
   * first.
   */
  deleteOldestOfLargest(bytes: number, keep: ReadonlySet<number>): Deleted {
    // The largest by observation bytes, so the audit stream, which contains no observations, goes last.
    const largest = this.db
      .prepare(
        `SELECT device FROM records GROUP BY device ORDER BY SUM(CASE WHEN ${keptSql} THEN 0 ELSE bytes END) DESC, SUM(bytes) DESC LIMIT 1`,
      )
      .get();
    if (largest === undefined) return { perDevice: new Map(), records: 0, bytes: 0 };
    const rows = this.db
      // Observations go before alarms and audit records: an alarm, such as the one saying
      // records were dropped, is small and must outlive the values around it.
      .prepare(
        `SELECT id, device, bytes FROM records WHERE device = ? ORDER BY ${keptSql}, id LIMIT 1000`,
      )
      .all(String(largest.device));
    const chosen: Record<string, unknown>[] = [];
    let freed = 0;
    for (const row of rows) {
      if (freed >= bytes) break;
      if (keep.has(Number(row.id))) continue;
      chosen.push(row);
      freed += Number(row.bytes);
    }
    return this.deleteRows(chosen);
  }

  /** Bytes of the database and its write-ahead log on disk. */
  fileBytes(): number {
    return [this.file, `${this.file}-wal`].reduce((sum, path) => {
      try {
        return sum + statSync(path).size;
      } catch {
        return sum;
      }
    }, 0);
  }

  close(): void {
    this.db.close();
  }

  private deleteRows(rows: readonly Record<string, unknown>[]): Deleted {
    const perDevice = new Map<string, number>();
    let bytes = 0;
    if (rows.length === 0) return { perDevice, records: 0, bytes };
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const row of rows) {
        this.deleteRecord.run(Number(row.id));
        const device = String(row.device);
        perDevice.set(device, (perDevice.get(device) ?? 0) + 1);
        bytes += Number(row.bytes);
      }
      this.db.exec("COMMIT");
    } catch (error) {
      // SQLite may have rolled back already (disk full); a second ROLLBACK would hide why.
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
    return { perDevice, records: rows.length, bytes };
  }
}

/** The outbox database's file name inside dataDir. */
export const outboxFileName = "outbox.sqlite";

/**
 * Returns what is wrong with an existing outbox file, or undefined. A file locked by a
 * running agent is fine, because only a damaged one is a problem.
 */
export function outboxFileProblem(file: string): string | undefined {
  try {
    statSync(file);
  } catch {
    return undefined;
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(file, { readOnly: true });
    const row = db.prepare("PRAGMA quick_check").get();
    const result = String(row?.quick_check ?? "");
    if (result === "ok") return undefined;
    return `outbox ${file} is damaged (${result}); move it aside to start with an empty outbox, which loses the records it contains`;
  } catch (error) {
    const message = messageOf(error);
    if (/locked|busy/i.test(message)) return undefined;
    return openError(file, error).message.replace(/^STATE_DAMAGED: /, "");
  } finally {
    db?.close();
  }
}

/** Explains why the outbox database cannot be opened, with what to do. */
function openError(file: string, error: unknown): GatewayError {
  const message = messageOf(error);
  if (/locked|busy/i.test(message)) {
    return new GatewayError(
      "STATE_LOCKED",
      `outbox ${file} is in use by another process (${message}); give each agent its own dataDir`,
      { cause: error },
    );
  }
  return new GatewayError(
    "STATE_DAMAGED",
    `outbox ${file} cannot be opened (${message}); move it aside to start with an empty ` +
      "outbox, which loses the records it contains",
    { cause: error },
  );
}
