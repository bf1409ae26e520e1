/** `iomt-gateway opcua list|trust|reject`: a technician's tools for the OPC UA trust lists. */
import { loadConfig } from "../config/load.js";
import { formatProblem } from "../config/problems.js";
import type { GatewayConfig } from "../config/schema.js";
import { GatewayError } from "../errors.js";
import { setPassword } from "../opcua/passwords.js";
import {
  isExpired,
  listCertificates,
  rejectCertificate,
  trustCertificate,
  type StoreKind,
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
                       trust warns when the certificate has expired, or when the issuing CA
                       or its CRL is missing from the list's issuers folder.
  reject THUMBPRINT    Withdraw trust: move a trusted certificate back to rejected.
  passwd USER          Add a user name to opcua.usersFile, or set its password. The
                       password is read from the terminal without echo, or from the
                       first line of standard input; at least 12 characters.

A newly trusted certificate works at the client's next connection; no restart is needed.

Options:
  --config FILE   The YAML configuration file (for dataDir).
  --user          The user certificates' list: for trust FILE, the file is a user's
                  certificate; for a thumbprint, look only among users.
  --application   For a thumbprint: look only among client applications.
  -h, --help      Show this help.
`;

export function opcuaCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      config: { type: "string", short: "c" },
      user: { type: "boolean" },
      application: { type: "boolean" },
    },
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
    const store = storeOption(values.user === true, values.application === true);
    if (action === "reject") {
      process.stdout.write(`${describe(rejectCertificate(dataDir, target, store), false)}\n`);
      return Promise.resolve(0);
    }
    const entry = trustCertificate(dataDir, target, store);
    process.stdout.write(`${describe(entry, false)}\n`);
    for (const warning of entry.warnings) process.stderr.write(`warning: ${warning}\n`);
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

function storeOption(user: boolean, application: boolean): StoreKind | undefined {
  if (user && application) {
    throw new GatewayError("CLI_USAGE", `give --user or --application, not both\n\n${help}`);
  }
  if (user) return "users";
  return application ? "applications" : undefined;
}

/** Formats a certificate as one line; `aligned` pads the columns for list. */
function describe(entry: StoredCertificate, aligned = true): string {
  const kind = entry.store === "users" ? "user" : "application";
  const uris = entry.uris.length === 0 ? "" : ` ${entry.uris.join(" ")}`;
  const validity = isExpired(entry)
    ? `EXPIRED on ${entry.notAfter}`
    : `valid until ${entry.notAfter}`;
  const status = aligned ? entry.status.padEnd(8) : entry.status;
  const kindColumn = aligned ? kind.padEnd(11) : kind;
  return `${status} ${kindColumn} ${entry.thumbprint} ${entry.subject}${uris} (${validity})`;
}
