/**
 * Tells whether tests may change network namespaces and nftables: they need root and the
 * `ip` and `nft` tools. Tests that need them skip with the returned reason, printed loudly.
 */
import { spawnSync } from "node:child_process";
import { nftPath } from "../../src/egress/firewall.js";

/** Returns why netns and nft tests cannot run here, or undefined when they can. */
export function networkPrivilegeProblem(): string | undefined {
  if (process.getuid?.() !== 0) {
    return `not running as root (uid ${process.getuid?.() ?? "unknown"}): network namespaces and nftables need root`;
  }
  let nft: string;
  try {
    nft = nftPath();
  } catch (error) {
    return (error as Error).message;
  }
  for (const [tool, args] of [
    ["ip", ["-V"]],
    [nft, ["--version"]],
  ] as const) {
    const result = spawnSync(tool, args, { encoding: "utf8" });
    if (result.error !== undefined || result.status !== 0) {
      return `${tool} is not usable (${result.error?.message ?? result.stderr.trim()}); apt-get install iproute2 nftables`;
    }
  }
  return undefined;
}

/** Prints a skip reason to stderr, which ava shows beside its own output. */
export function announceSkip(what: string, reason: string): void {
  process.stderr.write(`\n*** SKIPPED ${what}: ${reason} ***\n\n`);
}
