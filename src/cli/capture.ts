import { GatewayError } from "../errors.js";
import { deviceServerAllowlist, guardedTcpConnector } from "../capture/egress.js";
import { recordCapture } from "../capture/recorder.js";
import { loadConfig } from "../config/load.js";
import { formatProblem } from "../config/problems.js";
import { createSerialConnector } from "../link/serial.js";
import type { Connector } from "../link/types.js";
import { baudRates } from "../profiles/common.js";
import { allowlistOf } from "../egress/destinations.js";
import { builtInProfileDirs } from "../profiles/load.js";
import type { Profile } from "../profiles/schema.js";
import { agentVersion } from "../version.js";
import { integerOption, parseCommandArgs, profileDirsOption, requireOption } from "./args.js";
import { findProfile } from "./find-profile.js";

const help = `Usage: iomt-gateway capture --out FILE (--config FILE --device ID | --profile ID (--port PATH | --tcp HOST:PORT)) [options]

Records a link's raw bytes with their timing to FILE, one JSON object per line (see
docs/tools.md), until --duration or --max-bytes is reached or Ctrl-C is pressed. The link is
the configured device's (its serial port or device server) or the one the flags name; stop
the agent first, because a serial port has one reader.

Writes to the device only what the profile's session writes: nothing for devices that send
unasked (Masimo, Nonin without selectFormat), the ICC, polls and replies for MEDIBUS, which
sends nothing until it is polled. --listen-only writes nothing at all.

Options:
  --out FILE            Capture file to create; an existing file is never overwritten.
  --config FILE         Agent configuration to take the device's link and profile from.
  --device ID           Device id in that configuration.
  --profile ID          Profile id, with --port or --tcp instead of a configuration.
  --port PATH           Serial port, opened with the profile's serial settings.
  --baud N              Baud rate instead of the profile's, with --port.
  --tcp HOST:PORT       A serial device server's raw TCP port.
  --profiles-dir DIR    Extra folder of profiles, searched first (with --profile).
  --duration S          Seconds to record (default 60, at most 86400).
  --max-bytes N         Bytes to record in both directions (default 4194304, at most 1073741824).
  --listen-only         Never write to the device, even when the profile's session would.
  -h, --help            Show this help.
`;

const optionSpec = {
  out: { type: "string" },
  config: { type: "string", short: "c" },
  device: { type: "string" },
  profile: { type: "string" },
  port: { type: "string" },
  baud: { type: "string" },
  tcp: { type: "string" },
  "profiles-dir": { type: "string" },
  duration: { type: "string" },
  "max-bytes": { type: "string" },
  "listen-only": { type: "boolean" },
} as const;

type CaptureValues = ReturnType<typeof parseCommandArgs<typeof optionSpec>>["values"];

const maxDurationS = 86_400;
const maxBytesLimit = 1024 ** 3;

export async function captureCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, optionSpec, help);
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const file = requireOption(values.out, "out", help);
  const durationS = integerOption(values.duration, "duration", 60, maxDurationS);
  const maxBytes = integerOption(values["max-bytes"], "max-bytes", 4 * 1024 ** 2, maxBytesLimit);
  const { connector, profile } = resolveLink(values);
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (stop = resolve));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  process.stderr.write(`capturing ${connector.description} to ${file}; Ctrl-C stops\n`);
  let summary;
  try {
    summary = await recordCapture({
      connector,
      profile,
      writes: values["listen-only"] === true ? "none" : "session",
      durationMs: durationS * 1000,
      maxBytes,
      file,
      host: { name: "IOMTGW", revision: agentVersion },
      stopSignal,
    });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  process.stdout.write(
    `${file}: ${summary.bytesIn} bytes in, ${summary.bytesOut} bytes out, ` +
      `${(summary.ms / 1000).toFixed(1)} s (${summary.reason})\n`,
  );
  return 0;
}

/** Returns the link and profile from the configuration's device, or from the flags. */
function resolveLink(values: CaptureValues): { connector: Connector; profile: Profile } {
  const fromConfig = values.config !== undefined || values.device !== undefined;
  const fromFlags = [values.profile, values.port, values.tcp, values.baud].some(
    (value) => value !== undefined,
  );
  if (fromConfig === fromFlags) {
    throw new GatewayError(
      "CLI_USAGE",
      `give either --config and --device, or --profile with --port or --tcp\n\n${help}`,
    );
  }
  return fromConfig ? linkFromConfig(values) : linkFromFlags(values);
}

function linkFromConfig(values: CaptureValues): { connector: Connector; profile: Profile } {
  const configFile = requireOption(values.config, "config", help);
  const deviceId = requireOption(values.device, "device", help);
  const loaded = loadConfig(configFile);
  if (!loaded.ok) {
    const lines = loaded.problems.map((problem) => `  ${formatProblem(problem)}`).join("\n");
    throw new GatewayError("CONFIG_INVALID", `${configFile} is invalid:\n${lines}`);
  }
  const device = loaded.config.devices.find((candidate) => candidate.id === deviceId);
  if (device === undefined) {
    const ids = loaded.config.devices.map((candidate) => candidate.id).join(", ");
    throw new GatewayError(
      "CLI_USAGE",
      `--device ${deviceId} is not in ${configFile}; its devices are ${ids}`,
    );
  }
  const { profilesDir } = loaded.config;
  const dirs =
    profilesDir === undefined ? builtInProfileDirs() : [profilesDir, ...builtInProfileDirs()];
  const profile = findProfile(device.profile, dirs);
  const connector =
    device.link.kind === "serial"
      ? createSerialConnector(device.link.path, {
          ...profile.serial,
          baudRate: device.link.baudRate ?? profile.serial.baudRate,
        })
      : guardedTcpConnector(device.link.host, device.link.port, allowlistOf(loaded.config));
  return { connector, profile };
}

function linkFromFlags(values: CaptureValues): { connector: Connector; profile: Profile } {
  const profile = findProfile(
    requireOption(values.profile, "profile", help),
    profileDirsOption(values["profiles-dir"]),
  );
  if ((values.port === undefined) === (values.tcp === undefined)) {
    throw new GatewayError("CLI_USAGE", `give exactly one of --port or --tcp\n\n${help}`);
  }
  if (values.port !== undefined) {
    const baudRate = integerOption(values.baud, "baud", profile.serial.baudRate);
    if (!(baudRates as readonly number[]).includes(baudRate)) {
      throw new GatewayError(
        "CLI_USAGE",
        `--baud must be one of ${baudRates.join(", ")} (got ${baudRate})`,
      );
    }
    return {
      connector: createSerialConnector(values.port, { ...profile.serial, baudRate }),
      profile,
    };
  }
  if (values.baud !== undefined) {
    throw new GatewayError(
      "CLI_USAGE",
      "--baud applies to --port only; a device server sets its own rate",
    );
  }
  const match = /^(.+):(\d{1,5})$/.exec(values.tcp ?? "");
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65_535) {
    throw new GatewayError(
      "CLI_USAGE",
      `--tcp must be HOST:PORT with a port from 1 to 65535 (got ${JSON.stringify(values.tcp)})`,
    );
  }
  const host = match[1] ?? "";
  return { connector: guardedTcpConnector(host, port, deviceServerAllowlist(host, port)), profile };
}
