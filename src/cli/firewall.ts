import { loadConfig } from "../config/load.js";
import { formatProblem } from "../config/problems.js";
import type { GatewayConfig } from "../config/schema.js";
import { GatewayError, messageOf } from "../errors.js";
import {
  allowlistOf,
  brokerDestination,
  uncoveredDestinationProblems,
} from "../egress/destinations.js";
import { applyFirewall, assertFirewallSafe } from "../egress/firewall.js";
import { renderRuleset } from "../egress/nftables.js";
import { AllowlistPinning, systemLookup } from "../egress/pinning.js";
import { createLogger } from "../log.js";
import { parseCommandArgs, requireOption } from "./args.js";

const help = `Usage: iomt-gateway firewall render --config FILE
       iomt-gateway firewall apply --config FILE

Makes the host firewall from egress.allowlist: an nftables ruleset in the agent's own table
(egress.firewall.table, default inet iomt_gateway) that drops every packet out of the gateway
except loopback, replies, and the allowlist's outbound entries, and every packet in except
loopback, replies, and its inbound entries. Dropped packets are counted and logged with the
prefix "iomt-gateway egress denied:" or "iomt-gateway ingress denied:".
Names in the allowlist are resolved now; the ruleset allows the addresses they resolve to.

  render   Prints the ruleset. "nft -c -f FILE" checks it without loading it.
  apply    Loads it with "nft -f", replacing only the agent's table, in one transaction.
           Needs root or CAP_NET_ADMIN.
Both refuse a ruleset that would not allow the broker, or that has names but no dns entry
for a nameserver in egress.firewall.resolvConf (default /etc/resolv.conf).

Exit status: 0 on success, 1 otherwise.

Options:
  --config FILE   The YAML configuration file.
  -h, --help      Show this help.
`;

export async function firewallCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { config: { type: "string", short: "c" } },
    help,
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const action = positionals[0];
  if ((action !== "render" && action !== "apply") || positionals.length > 1) {
    throw new GatewayError("CLI_USAGE", `expected "render" or "apply"\n\n${help}`);
  }
  const configFile = requireOption(values.config, "config", help);
  const config = loadFirewallConfig(configFile);
  if (config === undefined) return 1;
  const egress = config.egress;
  if (egress === undefined) {
    process.stderr.write(
      `CONFIG_INVALID: ${configFile} has no egress.allowlist. The firewall needs every ` +
        "destination of the host written out, including its DNS and time servers; " +
        "see docs/egress.md\n",
    );
    return 1;
  }
  const allowlist = allowlistOf(config);
  const log = createLogger({ level: "warn", format: "text" }, "firewall");
  await new AllowlistPinning(allowlist, {
    lookup: systemLookup,
    refreshIntervalMs: egress.refreshIntervalMs,
    log,
  }).refresh();
  const options = {
    table: egress.firewall.table,
    allowlist,
    broker: brokerDestination(config),
    header: [`made by iomt-gateway firewall ${action} from ${configFile}`],
    resolvConf: egress.firewall.resolvConf,
  };
  try {
    if (action === "render") {
      assertFirewallSafe(options);
      process.stdout.write(renderRuleset(options));
      return 0;
    }
    await applyFirewall(options);
  } catch (error) {
    process.stderr.write(`${messageOf(error)}\n`);
    return 1;
  }
  process.stdout.write(
    `applied table inet ${egress.firewall.table}, allowlist sha256 ${allowlist.version()}\n`,
  );
  return 0;
}

/** Loads and validates the configuration; prints its problems and returns undefined if any. */
function loadFirewallConfig(configFile: string): GatewayConfig | undefined {
  const loaded = loadConfig(configFile);
  const problems = loaded.ok
    ? uncoveredDestinationProblems(loaded.config, configFile)
    : loaded.problems;
  if (problems.length === 0 && loaded.ok) return loaded.config;
  process.stderr.write(`CONFIG_INVALID: ${problems.length} problem(s) found:\n`);
  for (const problem of problems) process.stderr.write(`  ${formatProblem(problem)}\n`);
  return undefined;
}
