/**
 * Keeps a link open: opens it, watches it, and reopens it with exponential back-off after it
 * closes, fails or vanishes. A device going away never ends the agent.
 */
import { messageOf } from "../errors.js";
import type { Logger } from "../log.js";
import { SharedIntervals } from "../shared-intervals.js";
import type { Connector, LinkConnection } from "./types.js";

export interface ReconnectOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** How often to check that the endpoint still exists (serial paths). */
  watchMs: number;
}

export interface LinkListener {
  onOpen(): void;
  onData(chunk: Buffer): void;
  /** The open link closed, failed or vanished. */
  onDown(reason: string): void;
  /** An open attempt failed, such as a serial path that does not exist. */
  onUnavailable(reason: string): void;
}

/**
 * A link must stay open this long before its back-off starts again from initialDelayMs, so a
 * device server that accepts and then closes at once is retried ever more slowly.
 */
const stableOpenMs = 30_000;

export type LinkState = "idle" | "opening" | "open" | "waiting" | "stopped";

export class ReconnectingLink {
  private connection: LinkConnection | undefined;
  private stateValue: LinkState = "idle";
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;
  private lastReason = "";
  private openedAtMs = 0;
  /**
   * True from restart() until the link is down. The link did not fail, so the next open waits
   * only initialDelayMs, and a device that comes back after a silence is heard that soon.
   */
  private restarting = false;

  constructor(
    private readonly connector: Connector,
    private readonly options: ReconnectOptions,
    private readonly listener: LinkListener,
    private readonly log: Logger,
    private readonly intervals = new SharedIntervals(),
  ) {}

  get state(): LinkState {
    return this.stateValue;
  }

  get description(): string {
    return this.connector.description;
  }

  start(): void {
    if (this.stateValue !== "idle") return;
    this.open();
    if (this.connector.isPresent !== undefined) {
      this.stopWatching = this.intervals.every(this.options.watchMs, () => this.watch(), {
        ref: false,
      });
    }
  }

  stop(): void {
    this.stateValue = "stopped";
    clearTimeout(this.retryTimer);
    this.stopWatching?.();
    this.connection?.close();
    this.connection = undefined;
  }

  /** Writes bytes if the link is open; returns false when they were not written. */
  write(bytes: Buffer): boolean {
    if (this.stateValue !== "open" || this.connection === undefined) return false;
    this.connection.write(bytes);
    return true;
  }

  /** Closes and reopens the link, for a device that stopped talking without closing. */
  restart(reason: string): void {
    if (this.stateValue !== "open") return;
    this.restarting = true;
    this.connection?.close(reason);
  }

  private open(): void {
    this.stateValue = "opening";
    this.connector.connect().then(
      (connection) => this.opened(connection),
      (error: unknown) => this.down(messageOf(error)),
    );
  }

  private opened(connection: LinkConnection): void {
    if (this.stateValue === "stopped") {
      connection.close();
      return;
    }
    this.connection = connection;
    this.stateValue = "open";
    this.openedAtMs = performance.now();
    this.log.info("link open", { link: this.description });
    connection.onData((chunk) => this.listener.onData(chunk));
    connection.onClose((reason) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.down(reason);
    });
    this.listener.onOpen();
  }

  private down(reason: string): void {
    if (this.stateValue === "stopped") return;
    const wasOpen = this.stateValue === "open";
    this.stateValue = "waiting";
    const stable = performance.now() - this.openedAtMs >= stableOpenMs;
    if (wasOpen && (this.restarting || stable)) this.failures = 0;
    this.restarting = false;
    const delayMs = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** this.failures,
    );
    this.failures++;
    // A port that stays missing would log every retry; log a repeated reason at debug only.
    const level = wasOpen || reason !== this.lastReason ? "warn" : "debug";
    this.log[level]("link down, will retry", {
      link: this.description,
      reason,
      retryInMs: delayMs,
    });
    this.lastReason = reason;
    if (wasOpen) this.listener.onDown(reason);
    else this.listener.onUnavailable(reason);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  private watch(): void {
    if (this.stateValue !== "open" || this.connector.isPresent?.() !== false) return;
    this.connection?.close("the port disappeared");
  }
}
