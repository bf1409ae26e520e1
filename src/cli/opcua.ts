/** `iomt-gateway opcua list|trust|reject`: a technician's tools for the OPC UA trust lists. */
import { loadConfig } from "../config/load.js";
import { formatProblem } from "../config/problems.js";
import type { GatewayConfig } from "../config/schema.js";
import { GatewayError } from "../errors.js";
import { setPassword } from "../opcua/passwords.js";
import {
  listCertificates,
  rejectCertificate,
  trustCertificate,
  type StoredCertificate,
} from "../opcua/trust-store.js";
import { parseCommandArgs, requireOption } from "./args.js";
import { readSecret } from "./read-secret.js";

const help = `Usage: iomt-gateway opcua <list|trust|reject|passwd> --config FILE [THUMBPRINT|FILE|USER]

Manages the OPC UA server's trust lists in the data folder. The server never trusts a client by
itself: an unknown client or user certificate is refused and kept as "rejected" for review.

  list                 Show trusted and rejected certificates with their thumbprints.
  trust THUMBPRINT     Trust a rejected certificate (a unique thumbprint prefix of 8+ digits).
  trust FILE [--user]  Trust a certificate file (PEM or DER); --user for an X.509 user.
  reject THUMBPRINT    Withdraw trust: move a trusted certificate back to rejected.
  passwd USER          Add a user name to opcua.usersFile, or set its password. The
                       password is read from the terminal without echo, or from the
                       first line of standard input; at least 12 characters.

A newly trusted certificate works at the client's next connection; no restart is needed.

Options:
  --config FILE   The YAML configuration file (for dataDir).
  --user          With trust FILE: the file is a user's certificate, not an application's.
  -h, --help      Show this help.
`;

export function opcuaCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { config: { type: "string", short: "c" }, user: { type: "boolean" } },
    help,
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return Promise.resolve(0);
  }
  const [action, target, ...extra] = positionals;
  const configFile = requireOption(values.config, "config", help);
  const loaded = loadConfig(configFile);
  if (!loaded.ok) {
    for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return Promise.resolve(1);
  }
  const { dataDir } = loaded.config;
  if (extra.length > 0)
    throw new GatewayError("CLI_USAGE", `unexpected ${extra.join(" ")}\n\n${help}`);
  if (action === "list" && target === undefined) {
    const entries = listCertificates(dataDir);
    if (entries.length === 0)
      process.stdout.write("no OPC UA certificates trusted or rejected yet\n");
    for (const entry of entries) process.stdout.write(`${describe(entry)}\n`);
    return Promise.resolve(0);
  }
  if (action === "passwd" && target !== undefined) return setUserPassword(loaded.config, target);
  if ((action === "trust" || action === "reject") && target !== undefined) {
    const entry =
      action === "trust"
        ? trustCertificate(dataDir, target, values.user === true ? "users" : "applications")
        : rejectCertificate(dataDir, target);
    process.stdout.write(`${action === "trust" ? "trusted" : "rejected"}: ${describe(entry)}\n`);
    return Promise.resolve(0);
  }
  throw new GatewayError(
    "CLI_USAGE",
    `expected list, trust TARGET, reject TARGET or passwd USER\n\n${help}`,
  );
}

async function setUserPassword(config: GatewayConfig, user: string): Promise<number> {
  const file = config.opcua.usersFile;
  if (file === undefined) {
    throw new GatewayError(
      "CLI_USAGE",
      "opcua.usersFile is not set; set it to a file such as /etc/iomt-gateway/opcua-users, then run passwd again",
    );
  }
  setPassword(file, user, await readSecret(`Password for ${user}: `));
  process.stdout.write(`password set for ${user} in ${file}; it works from the next login\n`);
  return 0;
}

function describe(entry: StoredCertificate): string {
  const kind = entry.store === "users" ? "user" : "application";
  const uris = entry.uris.length === 0 ? "" : ` ${entry.uris.join(" ")}`;
  return `${entry.status.padEnd(8)} ${kind.padEnd(11)} ${entry.thumbprint} ${entry.subject}${uris} (valid until ${entry.notAfter})`;
}
