/**
 * Watches the broker's CA bundle, client certificate and private key for a renewal. Every
 * `broker.tlsReloadCheckMs` it compares each file's identity (mtime, size, inode). After a
 * change it reads the three files and runs every check of the agent's start on them
 * (readTlsMaterial), and material that passes replaces the current one. Renewal tools often rename
 * the certificate and the key into place one after the other, so material that fails is
 * rejected only once the files stayed unchanged for a whole interval: until then the agent
 * waits for the other half of the pair.
 */
import { statSync } from "node:fs";
import type { BrokerConfig } from "../config/schema.js";
import { formatProblem, type Problem } from "../config/problems.js";
import type { Logger } from "../log.js";
import { readTlsMaterial, type TlsMaterial } from "./tls.js";

export interface TlsWatcherOptions {
  broker: BrokerConfig;
  configFile: string;
  /** The material the agent started with. */
  current: TlsMaterial;
  /** The user that must own the key file, as at start; undefined skips that check. */
  uid: number | undefined;
  /** Called with new material that passed every check. */
  onLoaded: (tls: TlsMaterial) => void;
  /** Called once per rejected set of files, after the error is logged. */
  onRejected: (problems: Problem[]) => void;
  log: Logger;
}

export type TlsCheckResult =
  | { outcome: "unchanged" }
  | { outcome: "loaded"; tls: TlsMaterial }
  /** The files changed since the last check and fail a check: maybe half of a renewal. */
  | { outcome: "waiting"; problems: Problem[] }
  | { outcome: "rejected"; problems: Problem[] };

/** Returns the file's mtime, size and inode, or "missing" while it cannot be read. */
export function fileIdentity(file: string): string {
  try {
    const stats = statSync(file, { bigint: true });
    return `${stats.mtimeNs}:${stats.size}:${stats.ino}`;
  } catch {
    return "missing";
  }
}

export class TlsWatcher {
  private current: TlsMaterial;
  /** Identity of the files the current material was read from. */
  private acceptedIdentity: string;
  /** Identity at the previous check, to tell a renewal in progress from one that is done. */
  private seenIdentity: string;
  /** Identity of the files last rejected, so that one set of files is reported only once. */
  private rejectedIdentity: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TlsWatcherOptions) {
    this.current = options.current;
    this.acceptedIdentity = this.identity();
    this.seenIdentity = this.acceptedIdentity;
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.options.broker.tlsReloadCheckMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Checks the files once; the interval calls it, and tests call it directly. */
  check(now = new Date()): TlsCheckResult {
    const identity = this.identity();
    const settled = identity === this.seenIdentity;
    this.seenIdentity = identity;
    if (identity === this.acceptedIdentity || identity === this.rejectedIdentity) {
      return { outcome: "unchanged" };
    }

    const { broker, configFile, log } = this.options;
    const read = readTlsMaterial(broker, configFile, { now, uid: this.options.uid });
    if (read.ok) {
      this.acceptedIdentity = identity;
      this.rejectedIdentity = undefined;
      // Rewritten files with the same bytes (such as a renewal tool's dry run) need no reconnect.
      if (sameMaterial(read.tls, this.current)) return { outcome: "unchanged" };
      this.current = read.tls;
      this.options.onLoaded(read.tls);
      return { outcome: "loaded", tls: read.tls };
    }

    if (!settled) {
      log.debug("broker TLS files changed and fail a check; waiting for the rest of the renewal", {
        problems: read.problems.map(formatProblem),
      });
      return { outcome: "waiting", problems: read.problems };
    }

    this.rejectedIdentity = identity;
    log.error(
      "new broker TLS files rejected; the agent keeps using its current certificate until " +
        "the files are fixed",
      { problems: read.problems.map(formatProblem) },
    );
    this.options.onRejected(read.problems);
    return { outcome: "rejected", problems: read.problems };
  }

  private identity(): string {
    const { caFile, certFile, keyFile } = this.options.broker;
    return [caFile, certFile, keyFile].map(fileIdentity).join("|");
  }
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.ca.equals(b.ca) && a.cert.equals(b.cert) && a.key.equals(b.key);
}
