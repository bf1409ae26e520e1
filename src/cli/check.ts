import { formatProblem } from "../config/problems.js";
import { allowlistOf } from "../egress/destinations.js";
import { daysUntil } from "../mqtt/tls.js";
import { redactUrl } from "../config/redact-url.js";
import { preflight } from "../preflight.js";
import { parseCommandArgs, requireOption } from "./args.js";
import { describeOverrides } from "./overrides.js";

const help = `Usage: iomt-gateway check --config FILE

Validates the configuration against its schema, loads the firmware profiles it names, checks
the CA bundle, the client certificate and its key (readable, matching, not expired, key owned
by the user running the check and not readable by other users), the OPC UA server certificate
when opcua.enabled (RSA, its subjectAltName URI is the applicationUri), and writes a test file
in the data folder. Run it as the agent's user. Prints every problem with its place in the file, and
each profile in profilesDir that replaces a built-in one. A serial link.path must be a serial
port; one that does not exist yet (an unplugged USB adapter) is printed as a warning.
Exit status: 0 when everything is valid, warnings included, 1 otherwise.

Options:
  --config FILE   The YAML configuration file.
  -h, --help      Show this help.
`;

export function checkCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, { config: { type: "string", short: "c" } }, help);
  if (values.help) {
    process.stdout.write(help);
    return Promise.resolve(0);
  }
  const configFile = requireOption(values.config, "config", help);
  const checked = preflight(configFile, "check");
  if (!checked.ok) {
    process.stderr.write(`CONFIG_INVALID: ${checked.problems.length} problem(s) found:\n`);
    for (const problem of checked.problems) process.stderr.write(`  ${formatProblem(problem)}\n`);
    return Promise.resolve(1);
  }
  const { config, profiles, profileOverrides, tls, opcua, warnings } = checked.prepared;
  const count = warnings.length;
  const noted = count === 0 ? "" : ` with ${count} ${count === 1 ? "warning" : "warnings"}`;
  process.stdout.write(`${configFile}: valid${noted}\n`);
  for (const warning of warnings) process.stdout.write(`  warning: ${formatProblem(warning)}\n`);
  process.stdout.write(
    `  site ${config.site}, gateway ${config.gateway}, broker ${redactUrl(config.broker.url)}\n`,
  );
  const days = daysUntil(tls.clientCertNotAfter);
  process.stdout.write(
    `  client certificate valid until ${tls.clientCertNotAfter} (${days} ${days === 1 ? "day" : "days"})\n`,
  );
  if (opcua !== undefined) {
    const left = daysUntil(opcua.notAfter);
    process.stdout.write(
      `  OPC UA server on ${config.opcua.host}:${config.opcua.port} as ${opcua.applicationUri}, ` +
        `certificate valid until ${opcua.notAfter} (${left} ${left === 1 ? "day" : "days"})\n`,
    );
    for (const warning of opcua.warnings) process.stdout.write(`  warning: ${warning}\n`);
  }
  const allowlist = allowlistOf(config);
  process.stdout.write(
    allowlist.source === "configured"
      ? `  egress allowlist: ${allowlist.rules.length} entries\n`
      : "  egress allowlist: none written; only the broker and tcp device servers are allowed\n",
  );
  for (const device of config.devices) {
    const profile = profiles.get(device.profile)?.profile;
    const link =
      device.link.kind === "serial" ? device.link.path : `${device.link.host}:${device.link.port}`;
    process.stdout.write(`  device ${device.id}: ${profile?.name ?? "?"} on ${link}\n`);
  }
  for (const line of describeOverrides(profileOverrides)) process.stdout.write(`  ${line}\n`);
  return Promise.resolve(0);
}
