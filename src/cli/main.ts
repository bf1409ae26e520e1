#!/usr/bin/env node
/** The iomt-gateway command line: run, check, simulate, profiles, opcua, firewall, capture and replay. */
// First, so that it runs before the other modules load.
import "./restart-early.js";
import { hasCode, messageOf } from "../errors.js";
import { captureCommand } from "./capture.js";
import { checkCommand } from "./check.js";
import { opcuaCommand } from "./opcua.js";
import { firewallCommand } from "./firewall.js";
import { profilesCommand } from "./profiles.js";
import { replayCommand } from "./replay.js";
import { runCommand } from "./run.js";
import { simulateCommand } from "./simulate.js";
import { agentVersion } from "../version.js";

const usage = `iomt-gateway ${agentVersion}: reads bedside devices over serial links and publishes
their measurements to an MQTT broker over mutually authenticated TLS.

Usage: iomt-gateway <command> [options]

Commands:
  run --config FILE               Run the agent until SIGTERM or SIGINT.
  check --config FILE             Validate the configuration, its profiles and certificate files.
  simulate --profile ID           Stand in for a device on a serial port or a TCP port.
  profiles                        List the firmware profiles and run their test vectors.
  opcua list|trust|reject|passwd  Review the OPC UA server's trusted and rejected certificates,
                                  and set OPC UA user passwords.
  firewall render|apply           Print or load the host firewall made from egress.allowlist.
  capture --out FILE              Record a device link's raw bytes with their timing.
  replay FILE                     Decode a capture with a profile; print a table, JSON or a vector.

Run "iomt-gateway <command> --help" for a command's options.
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  run: runCommand,
  check: checkCommand,
  simulate: simulateCommand,
  profiles: profilesCommand,
  opcua: opcuaCommand,
  firewall: firewallCommand,
  capture: captureCommand,
  replay: replayCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    process.stdout.write(`${agentVersion}\n`);
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(
      `CLI_USAGE: unknown command "${name}"; expected one of ${Object.keys(commands).join(", ")}\n\n${usage}`,
    );
    return 2;
  }
  return command(rest);
}

// A reader that stops early, such as "replay FILE --json | head", is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${messageOf(error)}\n`);
    process.exitCode = hasCode(error, "CLI_USAGE") ? 2 : 1;
  },
);
