/**
 * The agent's egress control while `run` runs: the allowlist with its pinned names, and the
 * guard every connection goes through. When egress.firewall.manage is set, it also applies the
 * host firewall at start and after each address change, and polls its drop counters. Every
 * decision that changes or enforces the allowlist goes to the audit trail.
 */
import type { AuditTrail } from "../audit/trail.js";
import type { GatewayConfig } from "../config/schema.js";
import { messageOf } from "../errors.js";
import type { Logger } from "../log.js";
import type { EgressHealth } from "../mqtt/payloads.js";
import { formatDestination, type Allowlist } from "./allowlist.js";
import { allowlistOf, brokerDestination } from "./destinations.js";
import {
  applyFirewall,
  readDropCounters,
  runNft,
  type DropCounters,
  type RunNft,
} from "./firewall.js";
import { EgressGuard } from "./guard.js";
import { AllowlistPinning, systemLookup, type LookupAll, type PinChange } from "./pinning.js";

export interface EgressControllerOptions {
  config: GatewayConfig;
  configFile: string;
  audit: AuditTrail;
  log: Logger;
  lookup?: LookupAll;
  nft?: RunNft;
  /** systemd-resolved's upstream resolver configuration, for tests. */
  upstreamConf?: string;
}

interface FirewallState {
  applied: boolean;
  reason: string;
  appliedAt: string | null;
  /** Packets counted since the agent started, across re-applies (which reset nft counters). */
  dropped: DropCounters | null;
  /** The counters' values at the last read, since the last apply. */
  lastRead: DropCounters;
}

export class EgressController {
  readonly allowlist: Allowlist;
  readonly guard: EgressGuard;
  private readonly pinning: AllowlistPinning;
  private readonly manage: boolean;
  private readonly nft: RunNft;
  private pollTimer: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private readonly firewall: FirewallState;
  /** False during the first resolution, whose addresses allowlist-loaded reports. */
  private loaded = false;

  constructor(private readonly options: EgressControllerOptions) {
    const { config, audit } = options;
    this.allowlist = allowlistOf(config);
    this.guard = new EgressGuard(this.allowlist);
    this.pinning = new AllowlistPinning(this.allowlist, {
      lookup: options.lookup ?? systemLookup,
      refreshIntervalMs: config.egress?.refreshIntervalMs ?? 300_000,
      log: options.log.child("pinning"),
    });
    this.manage = config.egress?.firewall.manage === true;
    this.nft = options.nft ?? runNft;
    this.firewall = {
      applied: false,
      reason: this.manage
        ? "not applied yet"
        : "not managed by the agent (egress.firewall.manage is false)",
      appliedAt: null,
      dropped: null,
      lastRead: { out: 0, in: 0 },
    };
    this.guard.onDenied(({ destination, reason }) =>
      audit.recordRepeated(
        `denied:${formatDestination(destination)}`,
        "egress-denied",
        "warning",
        `the agent denied a connection to ${formatDestination(destination)}`,
        {
          by: "agent",
          destination: formatDestination(destination),
          purpose: destination.purpose,
          reason,
        },
      ),
    );
    this.pinning.onChange((changes) => this.changed(changes));
    this.pinning.onFailure(({ name, error, kept }) =>
      audit.recordRepeated(
        `resolve:${name}`,
        "allowlist-resolve-failed",
        "warning",
        `allowlist name ${name} did not resolve`,
        { name, error, kept },
      ),
    );
  }

  /**
   * Resolves the names, audits the allowlist, applies the firewall when managed, then calls
   * `onResolved`, where the agent opens its connections. Those need the pinned addresses, and
   * opening them only after the table is loaded means each one starts with a packet the
   * ruleset accepts, so conntrack lets its replies in. Rejects with EGRESS_FIREWALL_FAILED or
   * EGRESS_FIREWALL_UNSAFE, without calling `onResolved`, when a managed firewall cannot be
   * applied, because the gateway would otherwise run without the firewall its configuration requires.
   */
  async start(onResolved: () => void = () => undefined): Promise<void> {
    const { audit, config } = this.options;
    await this.pinning.start();
    this.loaded = true;
    audit.record("allowlist-loaded", "info", `allowlist ${this.allowlist.source} loaded`, {
      source: this.allowlist.source,
      sha256: this.allowlist.version(),
      entries: this.allowlist.rules.length,
      pinned: this.allowlist
        .names()
        .map((name) => `${name}=${this.allowlist.pinnedAddresses(name).join(",")}`),
      unresolvedNames: this.unresolvedNames(),
    });
    if (this.manage) {
      const error = await this.apply();
      if (error !== undefined) throw error;
      this.pollTimer = setInterval(
        () => void this.pollCounters(),
        config.egress?.firewall.counterPollMs ?? 10_000,
      );
      this.pollTimer.unref();
    }
    onResolved();
  }

  /** Resolves the names now, as the refresh timer does, and waits for any re-apply. */
  async refreshNow(): Promise<void> {
    await this.pinning.refresh();
    await this.applying;
  }

  stop(): void {
    this.pinning.stop();
    clearInterval(this.pollTimer);
  }

  health(): EgressHealth {
    const firewall = this.firewall;
    return {
      allowlistSource: this.allowlist.source,
      allowlistSha256: this.allowlist.version(),
      unresolvedNames: this.unresolvedNames(),
      deniedByAgent: this.guard.denied,
      firewall: {
        managed: this.manage,
        applied: firewall.applied,
        reason: firewall.reason,
        appliedAt: firewall.appliedAt,
        droppedOutPackets: firewall.dropped?.out ?? null,
        droppedInPackets: firewall.dropped?.in ?? null,
      },
    };
  }

  /** Reads the drop counters and audits packets dropped since the last read. */
  async pollCounters(): Promise<void> {
    if (!this.firewall.applied) return;
    let now: DropCounters;
    try {
      now = await readDropCounters(this.table(), this.nft);
    } catch (error) {
      this.options.log.warn("cannot read the firewall counters", { error: messageOf(error) });
      return;
    }
    const last = this.firewall.lastRead;
    const delta = { out: now.out - last.out, in: now.in - last.in };
    this.firewall.lastRead = now;
    const dropped = this.firewall.dropped ?? { out: 0, in: 0 };
    this.firewall.dropped = { out: dropped.out + delta.out, in: dropped.in + delta.in };
    for (const direction of ["out", "in"] as const) {
      if (delta[direction] <= 0) continue;
      this.options.audit.record(
        "egress-denied",
        "warning",
        `the firewall dropped ${packetCount(delta[direction], direction)}`,
        {
          by: "firewall",
          direction,
          packets: delta[direction],
          totalPackets: this.firewall.dropped[direction],
          table: this.table(),
        },
      );
    }
  }

  private table(): string {
    return this.options.config.egress?.firewall.table ?? "iomt_gateway";
  }

  private unresolvedNames(): string[] {
    return this.allowlist
      .names()
      .filter((name) => this.allowlist.pinnedAddresses(name).length === 0);
  }

  private changed(changes: PinChange[]): void {
    if (!this.loaded) return;
    for (const { name, before, after } of changes) {
      this.options.audit.record(
        "allowlist-changed",
        before.length === 0 ? "info" : "warning",
        `allowlist name ${name} now resolves to other addresses`,
        { name, before, after, sha256: this.allowlist.version() },
      );
    }
    if (this.manage) void this.apply();
  }

  /**
   * Applies the firewall and resolves with the error when it failed. Applies run one after
   * another, so the last uses the newest pins.
   */
  private apply(): Promise<Error | undefined> {
    const result = this.applying.then(() => this.applyNow());
    this.applying = result.then(() => undefined);
    return result;
  }

  private async applyNow(): Promise<Error | undefined> {
    const { config, configFile, audit } = this.options;
    // Re-applying recreates the table and so zeroes its counters, so count their packets first.
    await this.pollCounters();
    try {
      await applyFirewall({
        table: this.table(),
        allowlist: this.allowlist,
        broker: brokerDestination(config),
        header: [`applied by iomt-gateway run from ${configFile}`],
        ...(config.egress === undefined ? {} : { resolvConf: config.egress.firewall.resolvConf }),
        ...(this.options.upstreamConf === undefined
          ? {}
          : { upstreamConf: this.options.upstreamConf }),
        nft: this.nft,
      });
    } catch (error) {
      this.failed(error);
      return error instanceof Error ? error : new Error(messageOf(error));
    }
    this.firewall.applied = true;
    this.firewall.reason = "applied by the agent";
    this.firewall.appliedAt = new Date().toISOString();
    this.firewall.lastRead = { out: 0, in: 0 };
    this.firewall.dropped ??= { out: 0, in: 0 };
    audit.record("firewall-applied", "info", `firewall table inet ${this.table()} applied`, {
      table: this.table(),
      sha256: this.allowlist.version(),
    });
    return undefined;
  }

  /**
   * Records a failed apply. nft -f loads a ruleset in one transaction, so after a failed
   * re-apply the host still enforces the last ruleset that was applied.
   */
  private failed(error: unknown): void {
    const previouslyApplied = this.firewall.applied;
    const kept = previouslyApplied
      ? `the host keeps the ruleset applied at ${this.firewall.appliedAt ?? "start"}`
      : "the host has no firewall from the agent";
    this.firewall.reason = `the last apply failed, so ${kept}: ${messageOf(error)}`;
    const text = previouslyApplied
      ? `the firewall was not re-applied; ${kept}`
      : "the firewall was not applied, so the agent does not start";
    this.options.audit.record("firewall-failed", "error", text, {
      table: this.table(),
      error: messageOf(error),
      previouslyApplied,
    });
  }
}

/** Counts packets in words, such as "1 outbound packet" or "3 inbound packets". */
function packetCount(packets: number, direction: "in" | "out"): string {
  const noun = packets === 1 ? "packet" : "packets";
  return `${packets} ${direction === "out" ? "outbound" : "inbound"} ${noun}`;
}
