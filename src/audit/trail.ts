/**
 * The audit trail of security events. Each event is written to the gateway's audit file and
 * appended to the outbox for the `audit` topic, so it waits there while the broker is away. The
 * outbox keeps audit records before observations when it is full (see OutboxStore). Callers
 * pass facts only: never patient data, never key material.
 */
import { randomUUID } from "node:crypto";
import { messageOf } from "../errors.js";
import { RateLimitedWarning, type Logger } from "../log.js";
import type { AuditEvent, AuditPayload } from "../mqtt/payloads.js";
import type { Outbox } from "../outbox/outbox.js";
import type { AuditFile } from "./file.js";

export type AuditDetails = AuditPayload["details"];

/**
 * The outbox stream of audit records. Device ids start with a letter or digit, so this one
 * cannot clash with a device's sequence counter.
 */
export const auditStreamId = "_audit";

export interface AuditTrailOptions {
  file: AuditFile;
  outbox: Outbox;
  topic: string;
  sessionId: string;
  /**
   * Whether the broker is away now (the uplink's `away`); a record made while it is, is marked
   * offline and sent as replayed.
   */
  away: () => boolean;
  log: Logger;
}

/** Events of one kind that repeat (a broker refusing every reconnect) are kept to one a minute. */
const repeatIntervalMs = 60_000;

export class AuditTrail {
  private readonly lastAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private readonly warnings: RateLimitedWarning;
  private batching = false;

  constructor(private readonly options: AuditTrailOptions) {
    this.warnings = new RateLimitedWarning(options.log, 60_000);
  }

  record(
    event: AuditEvent,
    severity: AuditPayload["severity"],
    text: string,
    details: AuditDetails = {},
  ): void {
    const { outbox } = this.options;
    const payload: Omit<AuditPayload, "replayed"> = {
      messageId: randomUUID(),
      seq: outbox.takeSeq(auditStreamId),
      time: new Date().toISOString(),
      sessionId: this.options.sessionId,
      event,
      severity,
      text,
      details,
    };
    const body = JSON.stringify(payload);
    const log = this.options.log;
    if (severity === "error") log.error(text, { audit: event, ...details });
    else if (severity === "warning") log.warn(text, { audit: event, ...details });
    else log.info(text, { audit: event, ...details });
    try {
      this.options.file.append(body, !this.batching);
    } catch (error) {
      this.warnings.warn("file", "audit file write failed; the record goes to the broker only", {
        file: this.options.file.path,
        error: messageOf(error),
      });
    }
    outbox.append({
      deviceId: auditStreamId,
      seq: payload.seq,
      topic: this.options.topic,
      body,
      createdMs: Date.now(),
      offline: this.options.away(),
    });
  }

  /**
   * Records the events `recordEvents` makes with one fsync for all of them, as at start, where
   * one per event would delay the first connection.
   */
  batch(recordEvents: () => void): void {
    this.batching = true;
    try {
      recordEvents();
    } finally {
      this.batching = false;
      this.syncFile();
    }
  }

  close(): void {
    this.options.file.close();
  }

  private syncFile(): void {
    try {
      this.options.file.sync();
    } catch (error) {
      this.warnings.warn("file", "audit file sync failed; the records go to the broker only", {
        file: this.options.file.path,
        error: messageOf(error),
      });
    }
  }

  /**
   * Records an event at most once a minute per `key`; the next one carries how many were
   * left out in `details.suppressed`.
   */
  recordRepeated(
    key: string,
    event: AuditEvent,
    severity: AuditPayload["severity"],
    text: string,
    details: AuditDetails = {},
  ): void {
    const now = Date.now();
    const last = this.lastAt.get(key);
    if (last !== undefined && now - last < repeatIntervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return;
    }
    const suppressed = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    this.lastAt.set(key, now);
    this.record(event, severity, text, suppressed > 0 ? { ...details, suppressed } : details);
  }
}
