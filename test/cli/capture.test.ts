import test, { type ExecutionContext } from "ava";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { parseCapture, type Capture } from "../../src/capture/file.js";
import { recordCapture } from "../../src/capture/recorder.js";
import { captureCommand } from "../../src/cli/capture.js";
import { hasCode } from "../../src/errors.js";
import { createSerialConnector } from "../../src/link/serial.js";
import { deviceServerAllowlist, guardedTcpConnector } from "../../src/capture/egress.js";
import type { Connector } from "../../src/link/types.js";
import { createLogger } from "../../src/log.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import type { Profile } from "../../src/profiles/schema.js";
import { observedResult, replayChunks } from "../../src/profiles/vectors.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import { createPtyPair } from "../../src/simulate/pty-pair.js";
import { runSerialSimulator, runTcpSimulator } from "../../src/simulate/runner.js";
import { cliCommand, runCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";

const profiles = loadProfiles(builtInProfileDirs()).profiles;

function profile(id: string): Profile {
  const found = profiles.get(id)?.profile;
  if (found === undefined) throw new Error(`profile ${id} missing`);
  return found;
}

/** Starts a simulator of `profileId` on a new pty pair; returns the host end's path. */
async function simulatedPort(t: ExecutionContext, dir: string, profileId: string) {
  const pty = await createPtyPair(dir);
  t.teardown(() => pty.stop());
  const simulator = await runSerialSimulator(
    profile(profileId),
    pty.devicePath,
    defaultSimulatorOptions,
    createLogger({ level: "error", format: "text" }),
  );
  t.teardown(() => simulator.stop());
  return pty.hostPath;
}

/** Records in this process, through the same recorder the command uses. */
async function record(
  dir: string,
  profileId: string,
  connector: Connector,
  options: { writes: "session" | "none"; maxBytes: number; durationMs: number },
): Promise<Capture> {
  const file = join(dir, `${profileId}.jsonl`);
  await recordCapture({
    connector,
    profile: profile(profileId),
    file,
    host: { name: "IOMTGW", revision: "0.0.0" },
    ...options,
  });
  return parseCapture(readFileSync(file, "utf8"), file);
}

/** Runs the capture command in a child process, as a technician does. */
async function capture(t: ExecutionContext, dir: string, args: string[]): Promise<Capture> {
  const file = join(dir, "capture.jsonl");
  const result = await runCli(cliCommand("source"), ["capture", "--out", file, ...args], dir);
  t.is(result.code, 0, result.output);
  t.regex(result.output, /capture\.jsonl: \d+ bytes in, \d+ bytes out, \d+\.\d s \(\w+\)/);
  return parseCapture(readFileSync(file, "utf8"), file);
}

const inputBytes = (c: Capture) =>
  c.data.filter((item) => item.dir === "in").reduce((sum, item) => sum + item.hex.length / 2, 0);

test("capture records a Nonin simulator read-only", async (t) => {
  const dir = tempDir(t);
  const port = await simulatedPort(t, dir, "nonin-oem3-df2");
  const recorded = await capture(t, dir, [
    "--profile",
    "nonin-oem3-df2",
    "--port",
    port,
    // A size bound rather than a duration, so a loaded machine still records enough packets.
    "--max-bytes",
    "750",
    "--duration",
    "60",
  ]);
  t.is(recorded.header.profile, "nonin-oem3-df2");
  t.is(recorded.header.profileVersion, "1.0.0");
  t.is(recorded.header.link, `serial ${port} 9600 8N1`);
  t.deepEqual(
    recorded.data.filter((item) => item.dir === "out"),
    [],
    "the Nonin session writes nothing",
  );
  t.is(recorded.end?.reason, "size");
  t.is(recorded.end?.bytesIn, 750);
  t.is(inputBytes(recorded), 750);
  t.is(recorded.end?.bytesOut, 0);
  const times = recorded.data.map((item) => item.ms);
  t.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
    "times never go back",
  );
  const chunks = recorded.data.map((item) => ({
    bytes: Buffer.from(item.hex, "hex"),
    atMs: item.ms,
  }));
  const observed = observedResult(replayChunks(profile("nonin-oem3-df2"), chunks));
  t.true(observed.frames >= 5, `${observed.frames} packets in 750 bytes`);
  t.is(observed.checksumErrors, 0);
  t.is(observed.decodeErrors, 0);
  t.is(observed.observations.length, observed.frames * 2);
});

test("capture speaks the MEDIBUS session", async (t) => {
  const dir = tempDir(t);
  const port = await simulatedPort(t, dir, "draeger-medibus-evita4");
  const evita = profile("draeger-medibus-evita4");
  const polled = await record(dir, evita.id, createSerialConnector(port, evita.serial), {
    writes: "session",
    // About three poll cycles after the handshake, however slowly the machine runs.
    maxBytes: 400,
    durationMs: 60_000,
  });
  const out = polled.data.filter((item) => item.dir === "out");
  t.is(out[0]?.label, "ICC");
  t.is(out[0]?.hex, "1b5136430d");
  const poll = out.find((item) => item.label === "Request measured data CP1");
  t.is(poll?.hex, "1b2433460d", "the session's own poll");
  const chunks = polled.data
    .filter((item) => item.dir === "in")
    .map((item) => ({ bytes: Buffer.from(item.hex, "hex"), atMs: item.ms }));
  const observed = observedResult(replayChunks(profile("draeger-medibus-evita4"), chunks));
  t.true(observed.observations.some((o) => o.mdcCode === 150456 && o.value !== null));
  t.is(
    polled.end?.bytesOut,
    out.reduce((sum, item) => sum + item.hex.length / 2, 0),
  );
});

test("capture with writes none never writes", async (t) => {
  const dir = tempDir(t);
  const port = await simulatedPort(t, dir, "draeger-medibus-evita4");
  const evita = profile("draeger-medibus-evita4");
  const quiet = await record(dir, evita.id, createSerialConnector(port, evita.serial), {
    writes: "none",
    maxBytes: 4096,
    durationMs: 2000,
  });
  t.is(quiet.header.writes, "none");
  t.deepEqual(
    quiet.data.filter((item) => item.dir === "out"),
    [],
  );
  t.is(quiet.end?.bytesOut, 0);
  t.is(quiet.end?.reason, "duration");
});

test("capture stops at --max-bytes and takes the link from the config", async (t) => {
  const dir = tempDir(t);
  const port = await simulatedPort(t, dir, "nonin-oem3-df2");
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `site: s1
gateway: g1
dataDir: ${join(dir, "data")}
broker: { url: "mqtts://broker.example:8883", caFile: ca.pem, certFile: c.pem, keyFile: k.pem }
devices:
  - { id: bed3, profile: nonin-oem3-df2, link: { kind: serial, path: ${port}, baudRate: 19200 } }
`,
  );
  const recorded = await capture(t, dir, [
    "--config",
    config,
    "--device",
    "bed3",
    "--max-bytes",
    "300",
  ]);
  t.is(recorded.header.link, `serial ${port} 19200 8N1`, "the device's baud rate override");
  t.is(recorded.end?.reason, "size");
  t.is(inputBytes(recorded), 300);
});

test("capture reads a device server over TCP", async (t) => {
  const dir = tempDir(t);
  const server = await runTcpSimulator(
    profile("nonin-wristox2-3150-df8"),
    "127.0.0.1",
    0,
    defaultSimulatorOptions,
    createLogger({ level: "error", format: "text" }),
  );
  t.teardown(() => server.stop());
  const recorded = await record(
    dir,
    "nonin-wristox2-3150-df8",
    guardedTcpConnector("127.0.0.1", server.port, deviceServerAllowlist("127.0.0.1", server.port)),
    { writes: "session", maxBytes: 10, durationMs: 60_000 },
  );
  t.is(recorded.header.link, `tcp 127.0.0.1:${server.port}`);
  t.is(recorded.end?.reason, "size");
  const chunks = recorded.data.map((item) => ({
    bytes: Buffer.from(item.hex, "hex"),
    atMs: item.ms,
  }));
  const observed = observedResult(replayChunks(profile("nonin-wristox2-3150-df8"), chunks));
  t.true(observed.frames >= 1, "a format 8 record after the half record sent at connect");
  t.is(observed.decodeErrors, 0);
});

test("capture keeps to the configuration's egress allowlist", async (t) => {
  const dir = tempDir(t);
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `site: s1
gateway: g1
dataDir: ${join(dir, "data")}
broker: { url: "mqtts://127.0.0.1:8883", caFile: ca.pem, certFile: c.pem, keyFile: k.pem }
egress:
  allowlist:
    - { host: 127.0.0.1, port: 8883, purpose: broker }
devices:
  - { id: vent1, profile: draeger-medibus-evita4, link: { kind: tcp, host: 127.0.0.1, port: ${port} } }
`,
  );
  const out = join(dir, "denied.jsonl");
  const error = await t.throwsAsync(
    captureCommand(["--config", config, "--device", "vent1", "--out", out, "--duration", "5"]),
  );
  t.true(hasCode(error, "EGRESS_DENIED"), String(error));
  t.is(connections, 0, "no connection reached the device server");
  t.false(existsSync(out), "a capture that never opened leaves no file");
});

test("capture usage errors", async (t) => {
  const dir = tempDir(t);
  const existing = join(dir, "old.jsonl");
  writeFileSync(existing, "keep me\n");
  const cases: [string[], RegExp][] = [
    [["--profile", "nonin-oem3-df2", "--port", "/dev/null"], /missing --out/],
    [["--out", join(dir, "a"), "--port", "/dev/null"], /missing --profile/],
    [
      ["--out", join(dir, "a"), "--config", "x.yaml", "--port", "/dev/null"],
      /give either --config and --device, or --profile/,
    ],
    [
      ["--out", join(dir, "b"), "--profile", "nonin-oem3-df2", "--tcp", "localhost:99999"],
      /--tcp must be HOST:PORT with a port from 1 to 65535/,
    ],
    [
      [
        "--out",
        join(dir, "c"),
        "--profile",
        "nonin-oem3-df2",
        "--port",
        "/dev/null",
        "--baud",
        "1234",
      ],
      /--baud must be one of/,
    ],
    [
      ["--out", existing, "--profile", "nonin-oem3-df2", "--port", join(dir, "absent")],
      /cannot create the capture file .*old\.jsonl/,
    ],
  ];
  for (const [args, message] of cases) {
    const error = await t.throwsAsync(captureCommand(args), undefined, args.join(" "));
    t.true(hasCode(error, "CLI_USAGE"), String(error));
    t.regex(error?.message ?? "", message);
  }
  t.is(readFileSync(existing, "utf8"), "keep me\n", "an existing file is never overwritten");
  t.false(existsSync(join(dir, "c")));
});
