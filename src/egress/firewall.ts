/**
 * Loads the rendered ruleset into the host's nftables with `nft -f` (one transaction that
 * replaces only the agent's table) and reads its drop counters. Needs CAP_NET_ADMIN.
 */
import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import type { Allowlist, Destination } from "./allowlist.js";
import { counterNames, renderRuleset } from "./nftables.js";
import { blockedResolvers } from "./resolvers.js";

export interface NftResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs nft with `args`, writing `input` to its standard input. */
export type RunNft = (args: readonly string[], input?: string) => Promise<NftResult>;

const nftTimeoutMs = 10_000;

/**
 * Folders where Debian and most distributions install nft. The agent runs it by absolute
 * path rather than from PATH, where another program may be called nft (the npm package
 * @vercel/nft installs one in node_modules/.bin).
 */
const nftFolders = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

/** Returns the path of the nft program, or throws EGRESS_FIREWALL_FAILED. */
export function nftPath(): string {
  for (const folder of nftFolders) {
    const candidate = join(folder, "nft");
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this folder; try the next one.
    }
  }
  throw new GatewayError(
    "EGRESS_FIREWALL_FAILED",
    `nft not found in ${nftFolders.join(", ")}; install the Debian package nftables`,
  );
}

export const runNft: RunNft = (args, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(nftPath(), args, {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: nftTimeoutMs,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", (error) =>
      reject(
        new GatewayError(
          "EGRESS_FIREWALL_FAILED",
          `cannot run nft (${error.message}); install the Debian package nftables`,
          { cause: error },
        ),
      ),
    );
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    // nft may exit without reading its input (a command that takes none, or a syntax error),
    // so a write can fail with EPIPE. Its exit status and stderr then tell what went wrong.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });

export interface FirewallOptions {
  table: string;
  allowlist: Allowlist;
  /** The broker the agent needs; a ruleset that would not allow it is never applied. */
  broker: Destination;
  header?: readonly string[];
  /** The resolver configuration whose nameservers the ruleset must allow when it has names. */
  resolvConf?: string;
  /** systemd-resolved's upstream servers, checked when resolvConf names its stub. */
  upstreamConf?: string;
  nft?: RunNft;
}

export interface DropCounters {
  out: number;
  in: number;
}

/**
 * Throws EGRESS_FIREWALL_UNSAFE when the ruleset would cut the agent off from its broker: no
 * entry allows it, or its name has no pinned address yet.
 */
export function assertReachesBroker(allowlist: Allowlist, broker: Destination): void {
  const decision = allowlist.authorize(broker);
  if (decision.ok) return;
  throw new GatewayError(
    "EGRESS_FIREWALL_UNSAFE",
    `not applying the firewall because it would cut the agent off from its broker: ${decision.reason}`,
  );
}

/**
 * Throws EGRESS_FIREWALL_UNSAFE when the ruleset would cut the agent off from its broker or
 * from the DNS resolvers its names need. The table outlives the agent, so such a ruleset
 * would also keep the next start from resolving its broker.
 */
export function assertFirewallSafe(options: FirewallOptions): void {
  assertReachesBroker(options.allowlist, options.broker);
  if (options.resolvConf === undefined) return;
  const blocked = blockedResolvers(options.allowlist, options.resolvConf, options.upstreamConf);
  if (blocked.length === 0) return;
  throw new GatewayError(
    "EGRESS_FIREWALL_UNSAFE",
    `not applying the firewall because it would block DNS: ${blocked.join("; ")}`,
  );
}

/** Renders, checks and applies the ruleset; resolves with the ruleset text applied. */
export async function applyFirewall(options: FirewallOptions): Promise<string> {
  assertFirewallSafe(options);
  const ruleset = renderRuleset(options);
  const nft = options.nft ?? runNft;
  const result = await nft(["-f", "-"], ruleset);
  if (result.code !== 0) throw nftRejected(result, ruleset);
  return ruleset;
}

/**
 * Explains why `nft -f` failed: without the permission to change the firewall, or because it
 * rejected a line of the ruleset, which is then shown with the allowlist entry it came from.
 */
export function nftRejected(result: NftResult, ruleset: string): GatewayError {
  const output = result.stderr.trim();
  const exit = `exit ${String(result.code)}`;
  const kept = "the host keeps its previous rules";
  if (/Operation not permitted|Permission denied/i.test(output)) {
    return new GatewayError(
      "EGRESS_FIREWALL_FAILED",
      `nft -f could not change the firewall (${exit}: ${output}); ${kept}. ` +
        "Run as root or with CAP_NET_ADMIN",
    );
  }
  const lineNumber = /^[^:\n]*:(\d+):\d+/m.exec(output)?.[1];
  const line = lineNumber === undefined ? undefined : ruleset.split("\n")[Number(lineNumber) - 1];
  const entry = line === undefined ? undefined : /comment "(entry \d+: [^"]*)"/.exec(line)?.[1];
  const where =
    entry === undefined
      ? ""
      : ` The rejected rule comes from egress.allowlist ${entry}; fix that entry.`;
  return new GatewayError(
    "EGRESS_FIREWALL_FAILED",
    `nft -f rejected the ruleset (${exit}): ${output}; ${kept}.${where} ` +
      "iomt-gateway firewall render prints the whole ruleset",
  );
}

/** Reads the packets counted by the table's drop counters. */
export async function readDropCounters(table: string, nft: RunNft = runNft): Promise<DropCounters> {
  const result = await nft(["-j", "list", "counters", "table", "inet", table]);
  if (result.code !== 0) {
    throw new GatewayError(
      "EGRESS_FIREWALL_FAILED",
      `cannot read the counters of table inet ${table}: ${result.stderr.trim()}`,
    );
  }
  return parseCounters(result.stdout);
}

/** Parses `nft -j list counters` output (libnftables JSON, nftables 0.9 and later). */
export function parseCounters(json: string): DropCounters {
  const parsed = JSON.parse(json) as {
    nftables?: { counter?: { name: string; packets: number } }[];
  };
  const packets = (name: string) =>
    parsed.nftables?.find((item) => item.counter?.name === name)?.counter?.packets ?? 0;
  return { out: packets(counterNames.out), in: packets(counterNames.in) };
}
