import { GatewayError } from "../errors.js";
import { createLogger } from "../log.js";
import { defaultSimulatorOptions, type SimulatorOptions } from "../protocols/family.js";
import { runSerialSimulator, runTcpSimulator } from "../simulate/runner.js";
import { integerOption, parseCommandArgs, profileDirsOption, requireOption } from "./args.js";
import { findProfile } from "./find-profile.js";

const help = `Usage: iomt-gateway simulate --profile ID (--port PATH | --tcp-port N) [options]

Stands in for a bedside device: speaks the profile's protocol byte for byte, including its
session rules, on a serial port or as a TCP server like a serial device server. Stops on
SIGTERM or SIGINT with status 0, and with status 1 when its serial port goes away.

Options:
  --profile ID          Profile id, such as masimo-radical7-ascii1, draeger-medibus-evita4 or
                        ge-datex-s5-monitor.
  --port PATH           Serial port to talk on (one end of a socat pair, or a USB adapter).
  --tcp-port N          Listen on TCP port N (0 to 65535) instead; 0 picks a free port.
  --host ADDRESS        Address to listen on with --tcp-port (default 127.0.0.1).
  --profiles-dir DIR    Extra folder of profiles, searched first.
  --seed N              Seed for the simulated values (default 1).
  --corrupt-every N     Send a wrong checksum or malformed frame every N frames (default 0: never).
  --garbage-every N     Send noise before every N-th frame (default 0: never).
  --serial-number S     Serial number the device reports (default SIM0000001).
  --wave-rate N         Samples per second of every simulated wave, 0 to 2000 (default: the
                        profile's rates). The agent takes samplePeriodMs from the profile, so
                        give it a profile whose waves declare 1000/N ms.
  --stream              Send a fixed benchmark load from the start, without waiting for the
                        host's requests (ge-datex-s5-monitor: numerics every second and the
                        ECG1, INVP1 and PLETH waves at 300, 100 and 100 samples/s).
  -h, --help            Show this help.
`;

const maxTcpPort = 65_535;
/** Samples per second; above this a simulated wave would outrun a 115200 baud link. */
const maxWaveRate = 2000;

const optionSpec = {
  profile: { type: "string" },
  port: { type: "string" },
  "tcp-port": { type: "string" },
  host: { type: "string" },
  "profiles-dir": { type: "string" },
  seed: { type: "string" },
  "corrupt-every": { type: "string" },
  "garbage-every": { type: "string" },
  "serial-number": { type: "string" },
  "wave-rate": { type: "string" },
  stream: { type: "boolean" },
} as const;

type SimulateValues = ReturnType<typeof parseCommandArgs<typeof optionSpec>>["values"];

export async function simulateCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, optionSpec, help);
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  if ((values.port === undefined) === (values["tcp-port"] === undefined)) {
    throw new GatewayError("CLI_USAGE", `give exactly one of --port or --tcp-port\n\n${help}`);
  }
  // Checked before the profiles load, so a usage error comes first.
  const tcpPort = integerOption(values["tcp-port"], "tcp-port", 0, maxTcpPort);
  const profile = findProfile(
    requireOption(values.profile, "profile", help),
    profileDirsOption(values["profiles-dir"]),
  );
  const options = simulatorOptions(values);
  if (options.waveRate !== undefined && Object.keys(profile.waves).length === 0) {
    throw new GatewayError(
      "CLI_USAGE",
      `--wave-rate: profile ${profile.id} maps no waves, so its simulator sends none; ` +
        "remove --wave-rate or pick a profile with waves, such as ge-datex-s5-monitor",
    );
  }
  const log = createLogger({ level: "info", format: "text" }, "simulate");

  const running =
    values.port !== undefined
      ? await runSerialSimulator(profile, values.port, options, log)
      : await runTcpSimulator(profile, values.host ?? "127.0.0.1", tcpPort, options, log);
  const lost = await new Promise<string | undefined>((resolve) => {
    process.once("SIGTERM", () => resolve(undefined));
    process.once("SIGINT", () => resolve(undefined));
    void running.lost.then(resolve);
  });
  await running.stop();
  if (lost === undefined) {
    log.info("simulator stopped", running.stats());
    return 0;
  }
  log.error(
    "serial port is gone, so the simulator stops; start it again once the port exists " +
      "(socat running, adapter plugged in)",
    { port: values.port, reason: lost, ...running.stats() },
  );
  return 1;
}

function simulatorOptions(values: SimulateValues): SimulatorOptions {
  return {
    seed: integerOption(values.seed, "seed", defaultSimulatorOptions.seed),
    corruptEvery: integerOption(values["corrupt-every"], "corrupt-every", 0),
    garbageEvery: integerOption(values["garbage-every"], "garbage-every", 0),
    serialNumber: values["serial-number"] ?? defaultSimulatorOptions.serialNumber,
    ...(values["wave-rate"] === undefined
      ? {}
      : { waveRate: integerOption(values["wave-rate"], "wave-rate", 0, maxWaveRate) }),
    stream: values.stream === true,
  };
}
