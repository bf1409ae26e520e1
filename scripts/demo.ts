/**
 * `npm start`: the whole pipeline on this machine with nothing installed beyond npm packages.
 * It makes a development CA, starts an embedded MQTT broker with mutual TLS on loopback,
 * simulates a Masimo Radical-7 and a Dräger MEDIBUS device (on socat virtual serial ports when
 * socat is installed, else over loopback TCP as a serial device server would carry them), runs
 * the agent on them, and shows what a subscriber with its own client certificate receives.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { startAgent } from "../src/agent.js";
import { startOpcuaWhenEnabled } from "../src/opcua/handle.js";
import { formatProblem } from "../src/config/problems.js";
import { createLogger } from "../src/log.js";
import { createDevPki, type DevPki } from "../src/pki/dev-ca.js";
import { preflight } from "../src/preflight.js";
import { builtInProfileDirs, loadProfiles } from "../src/profiles/load.js";
import type { Profile } from "../src/profiles/schema.js";
import { defaultSimulatorOptions } from "../src/protocols/family.js";
import { createPtyPair } from "../src/simulate/pty-pair.js";
import {
  runSerialSimulator,
  runTcpSimulator,
  type RunningSimulator,
} from "../src/simulate/runner.js";
import { startDemoBroker } from "./demo/broker.js";
import { prepareDemoOpcua, readOverOpcua, type DemoOpcua } from "./demo/opcua.js";
import { LiveView } from "./demo/view.js";

const demoDevices = [
  { id: "bed1-spo2", profile: "masimo-radical7-ascii1" },
  { id: "bed1-vent", profile: "draeger-medibus-evita4" },
];
const prefix = "iomt/v1";

interface Cleanup {
  (): Promise<void> | void;
}

const usage =
  "Usage: npm start [-- --duration SECONDS] [--tcp] [--plain] [--keep] [--opcua]\n\n" +
  "  --duration S  stop after S seconds (default: run until Ctrl-C)\n" +
  "  --tcp         simulate devices over loopback TCP even when socat is installed\n" +
  "  --plain       print one line per message instead of redrawing the screen\n" +
  "  --keep        keep the demo's folder (configuration, certificates, agent log)\n" +
  "  --opcua       also run the OPC UA server and read a value from it every 3 s\n\n" +
  "The simulated devices send a corrupt frame and some noise now and then, so the link\n" +
  "counters show how the agent counts and skips bad input.\n";

async function main(): Promise<number> {
  let values: {
    duration?: string;
    tcp?: boolean;
    plain?: boolean;
    keep?: boolean;
    opcua?: boolean;
    help?: boolean;
  };
  try {
    values = parseArgs({
      options: {
        duration: { type: "string" },
        tcp: { type: "boolean" },
        plain: { type: "boolean" },
        keep: { type: "boolean" },
        opcua: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.duration !== undefined && !/^\d+$/.test(values.duration)) {
    process.stderr.write(
      `--duration must be a whole number of seconds (got ${values.duration})\n\n${usage}`,
    );
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const cleanups: Cleanup[] = [];
  const dir = mkdtempSync(join(tmpdir(), "iomt-gateway-demo-"));
  if (values.keep !== true) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    return await runDemo(dir, values, cleanups);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function runDemo(
  dir: string,
  values: { duration?: string; tcp?: boolean; plain?: boolean; opcua?: boolean },
  cleanups: Cleanup[],
) {
  const pki = await createDevPki(join(dir, "pki"), {
    clients: ["gateway-demo", "dashboard-demo"],
    days: 2,
  });
  const broker = await startDemoBroker(pki);
  cleanups.push(() => broker.stop());

  const useSocat =
    values.tcp !== true && spawnSync("socat", ["-V"], { stdio: "ignore" }).status === 0;
  const profiles = loadProfiles(builtInProfileDirs()).profiles;
  const links: string[] = [];
  for (const device of demoDevices) {
    const profile = profiles.get(device.profile)?.profile as Profile;
    links.push(await startSimulatedDevice(dir, device.id, profile, useSocat, cleanups));
  }

  const configFile = join(dir, "config.yaml");
  const opcua = values.opcua === true ? await prepareDemoOpcua(dir, join(dir, "data")) : undefined;
  writeFileSync(configFile, demoConfig(pki, broker.port, links) + (opcua?.settings ?? ""));
  const checked = preflight(configFile);
  if (!checked.ok) {
    for (const problem of checked.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    return 1;
  }
  const logFile = join(dir, "agent.log");
  const logStream = createWriteStream(logFile);
  const log = createLogger({
    level: "info",
    format: "text",
    sink: { write: (line) => logStream.write(line) },
  });
  const opcuaServer = await startOpcuaWhenEnabled(checked.prepared, log.child("opcua"));
  const agent = startAgent(
    checked.prepared,
    log,
    opcuaServer === undefined ? {} : { opcua: opcuaServer },
  );
  cleanups.push(() => agent.stop());

  const view = new LiveView(`${prefix}/demo/gw-demo`);
  const subscriber = subscribe(
    pki,
    broker.port,
    view,
    values.plain === true || !process.stdout.isTTY,
  );
  cleanups.push(() => subscriber.endAsync());

  process.stdout.write(
    `demo: broker mqtts://localhost:${broker.port}, devices on ${useSocat ? "socat virtual serial ports" : "loopback TCP"}\n` +
      `demo: configuration ${configFile}\ndemo: agent log ${logFile}\n`,
  );
  const plain = values.plain === true || !process.stdout.isTTY;
  const viewer = opcua === undefined ? undefined : readEvery(opcua, view, plain);
  if (opcuaServer !== undefined) process.stdout.write(`demo: OPC UA ${opcuaServer.endpointUrl}\n`);
  await waitForStop(values.duration, view, plain);
  clearInterval(viewer);
  process.stdout.write(`\ndemo: received ${view.observationMessages} observation messages\n`);
  return view.observationMessages > 0 ? 0 : 1;
}

async function startSimulatedDevice(
  dir: string,
  deviceId: string,
  profile: Profile,
  useSocat: boolean,
  cleanups: Cleanup[],
): Promise<string> {
  const log = createLogger({ level: "warn", format: "text" }, "simulator");
  const options = {
    ...defaultSimulatorOptions,
    serialNumber: `DEMO-${deviceId}`,
    garbageEvery: 7,
    corruptEvery: 11,
  };
  let simulator: RunningSimulator;
  if (useSocat) {
    const pair = await createPtyPair(dir, {
      deviceName: `${deviceId}-device`,
      hostName: `${deviceId}-host`,
    });
    cleanups.push(() => pair.stop());
    simulator = await runSerialSimulator(profile, pair.devicePath, options, log);
    cleanups.push(() => simulator.stop());
    return `{ kind: serial, path: ${JSON.stringify(pair.hostPath)} }`;
  }
  const tcp = await runTcpSimulator(profile, "127.0.0.1", 0, options, log);
  cleanups.push(() => tcp.stop());
  return `{ kind: tcp, host: 127.0.0.1, port: ${tcp.port} }`;
}

function demoConfig(pki: DevPki, port: number, links: string[]): string {
  const client = pki.clients["gateway-demo"];
  const devices = demoDevices
    .map(
      (device, index) =>
        `  - id: ${device.id}\n    profile: ${device.profile}\n    link: ${links[index]}`,
    )
    .join("\n");
  return `# Written by the demo; a real gateway's file looks the same with its own paths.
site: demo
gateway: gw-demo
topicPrefix: ${prefix}
dataDir: ./data
log: { level: info, format: text }
broker:
  url: mqtts://localhost:${port}
  # The embedded demo broker (aedes) speaks MQTT 3.1.1 only.
  mqttVersion: "3.1.1"
  caFile: ${JSON.stringify(pki.ca.cert)}
  certFile: ${JSON.stringify(client?.cert)}
  keyFile: ${JSON.stringify(client?.key)}
health: { intervalMs: 5000 }
reconnect: { initialDelayMs: 200, maxDelayMs: 2000 }
devices:
${devices}
`;
}

/** Reads over OPC UA every 3 s; the line goes under the live view, or is printed in plain mode. */
function readEvery(opcua: DemoOpcua, view: LiveView, plain: boolean): NodeJS.Timeout {
  return setInterval(() => {
    readOverOpcua(opcua, demoDevices[0]?.id ?? "").then(
      (line) => {
        view.footer = line;
        if (plain) process.stdout.write(`${line}\n`);
      },
      (error: unknown) => process.stdout.write(`opcua: read failed: ${String(error)}\n`),
    );
  }, 3000);
}

function subscribe(pki: DevPki, port: number, view: LiveView, plain: boolean) {
  const client = pki.clients["dashboard-demo"];
  const subscriber = mqtt.connect(`mqtts://localhost:${port}`, {
    ca: readFileSync(pki.ca.cert),
    cert: readFileSync(client?.cert ?? ""),
    key: readFileSync(client?.key ?? ""),
    protocolVersion: 4,
    reconnectPeriod: 500,
  });
  subscriber.on("connect", () => void subscriber.subscribeAsync(`${prefix}/#`, { qos: 1 }));
  subscriber.on("message", (topic, body) => {
    const line = view.apply(topic, JSON.parse(body.toString("utf8")) as unknown);
    if (plain && line !== undefined) process.stdout.write(`${line}\n`);
  });
  return subscriber;
}

async function waitForStop(
  duration: string | undefined,
  view: LiveView,
  plain: boolean,
): Promise<void> {
  const redraw = plain
    ? undefined
    : setInterval(() => process.stdout.write(`\x1b[2J\x1b[H${view.render(Date.now())}\n`), 1000);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    if (duration !== undefined) setTimeout(resolve, Number(duration) * 1000);
  });
  clearInterval(redraw);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
