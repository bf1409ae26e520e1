/**
 * Resolves the allowlist's host names at start and every refreshIntervalMs, and pins each to the
 * addresses it resolved to. A failed lookup keeps the earlier addresses, so a DNS outage does
 * not cut the gateway off. A changed DNS result changes what is allowed, and is reported.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { messageOf } from "../errors.js";
import { RateLimitedWarning, type Logger } from "../log.js";
import type { Allowlist } from "./allowlist.js";

/** Returns every address of a name, as the system resolver (getaddrinfo) finds them. */
export type LookupAll = (name: string) => Promise<string[]>;

export const systemLookup: LookupAll = async (name) =>
  (await dnsLookup(name, { all: true })).map((entry) => entry.address);

export interface PinChange {
  name: string;
  before: string[];
  after: string[];
}

export interface PinFailure {
  name: string;
  error: string;
  /** The addresses still allowed for the name: those of the last successful lookup. */
  kept: string[];
}

export interface PinningOptions {
  lookup: LookupAll;
  refreshIntervalMs: number;
  log: Logger;
}

export class AllowlistPinning {
  private timer: NodeJS.Timeout | undefined;
  private readonly changeListeners: ((changes: PinChange[]) => void)[] = [];
  private readonly failureListeners: ((failure: PinFailure) => void)[] = [];
  private readonly warnings: RateLimitedWarning;
  private running: Promise<PinChange[]> | undefined;

  constructor(
    private readonly allowlist: Allowlist,
    private readonly options: PinningOptions,
  ) {
    this.warnings = new RateLimitedWarning(options.log, 60_000);
  }

  /** Registers a listener called after a refresh that changed at least one name's addresses. */
  onChange(listener: (changes: PinChange[]) => void): void {
    this.changeListeners.push(listener);
  }

  onFailure(listener: (failure: PinFailure) => void): void {
    this.failureListeners.push(listener);
  }

  /** Resolves now, then again every refreshIntervalMs until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Resolves every name once; a refresh already running is joined rather than repeated. */
  refresh(): Promise<PinChange[]> {
    this.running ??= this.resolveAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async resolveAll(): Promise<PinChange[]> {
    const changes: PinChange[] = [];
    for (const name of this.allowlist.names()) {
      const before = this.allowlist.pinnedAddresses(name);
      let addresses: string[];
      try {
        addresses = await this.options.lookup(name);
      } catch (error) {
        this.failed({ name, error: messageOf(error), kept: before });
        continue;
      }
      if (addresses.length === 0) {
        this.failed({ name, error: "the lookup returned no address", kept: before });
        continue;
      }
      if (this.allowlist.pin(name, addresses)) {
        changes.push({ name, before, after: this.allowlist.pinnedAddresses(name) });
      }
    }
    if (changes.length > 0) {
      for (const change of changes) {
        // A changed DNS result changes where the gateway may connect, which is a trust change.
        const level = change.before.length === 0 ? "info" : "warn";
        this.options.log[level]("allowlist name pinned to new addresses", { ...change });
      }
      for (const listener of this.changeListeners) listener(changes);
    }
    return changes;
  }

  private failed(failure: PinFailure): void {
    this.warnings.warn(
      `lookup:${failure.name}:${failure.error}`,
      "allowlist name did not resolve",
      {
        ...failure,
        hint:
          failure.kept.length > 0
            ? "the addresses of the last successful lookup stay allowed"
            : "nothing is allowed for this name until it resolves",
      },
    );
    for (const listener of this.failureListeners) listener(failure);
  }
}
