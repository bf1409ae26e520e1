/**
 * Benchmark: start time and memory of the bundled agent. For each run it starts mosquitto with
 * mutual TLS and a Masimo simulator on a socat virtual serial port, spawns dist/iomt-gateway.cjs
 * from a folder with no node_modules, and measures the time from spawn to the gateway's online
 * state and to the first observation a subscriber receives, and the agent's resident memory
 * (VmRSS, VmHWM) after `settleMs`. The simulator sends one line a second and the agent skips
 * the first, partial line after opening the port, so the first observation waits for the
 * device's second line. With --opcua (npm run bench:opcua) the agent also runs its OPC UA
 * server, and the time from spawn to the server's listening log line is measured too.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/log.js";
import { createDevPki, createOpcuaCertificate } from "../../src/pki/dev-ca.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import { defaultSimulatorOptions } from "../../src/protocols/family.js";
import { createPtyPair } from "../../src/simulate/pty-pair.js";
import { runSerialSimulator } from "../../src/simulate/runner.js";
import { installBundle, startCli } from "../../test/helpers/agent-process.js";
import { startMosquitto } from "../../test/helpers/mosquitto.js";
import { freeLoopbackPort } from "../../test/helpers/ports.js";
import { connectSubscriber } from "../../test/helpers/subscriber.js";
import { parseBenchArgs, wholeNumberOption } from "./harness/args.js";
import { Cleanups, cleanUpOnSignals, runFolders } from "./harness/cleanups.js";

const usage =
  "Usage: tsx scripts/bench/startup.ts [--runs N] [--settle-ms MS] [--opcua]\n" +
  "(npm run bench:opcua builds the bundle and adds --opcua)";

interface RunResult {
  onlineMs: number;
  /** Spawn to "opcua server listening", with --opcua. */
  opcuaListeningMs?: number;
  firstObservationMs: number;
  rssMb: number;
  peakRssMb: number;
}

function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024 };
}

/** The opcua section of the configuration, with a fresh server certificate. */
async function opcuaSettings(dir: string): Promise<string> {
  const uri = "urn:iomt-gateway:bench:gw";
  const cert = await createOpcuaCertificate(join(dir, "opcua"), "opcua-server", {
    applicationUri: uri,
  });
  const port = await freeLoopbackPort();
  return (
    `opcua: { enabled: true, host: 127.0.0.1, hostname: localhost, port: ${port}, ` +
    `applicationUri: "${uri}", certFile: "${cert.cert}", keyFile: "${cert.key}" }\n`
  );
}

async function waitForOutput(output: () => string, text: string, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!output().includes(text)) {
    if (performance.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function runOnce(settleMs: number, opcua: boolean): Promise<RunResult> {
  const cleanups = new Cleanups();
  try {
    const { dir, brokerDir } = runFolders(cleanups);
    const pki = await createDevPki(join(dir, "pki"), { clients: ["gateway", "dashboard"] });
    const broker = await startMosquitto({ pki, dir: brokerDir });
    cleanups.push(() => broker.stop());
    const subscriber = await connectSubscriber(broker.url, pki, "dashboard");
    cleanups.push(() => subscriber.close());
    await subscriber.subscribe("iomt/v1/#", 1);
    const pty = await createPtyPair(dir);
    cleanups.push(() => pty.stop());
    const profile =
      loadProfiles(builtInProfileDirs()).profiles.get("masimo-radical7-ascii1")?.profile;
    if (profile === undefined) throw new Error("profile masimo-radical7-ascii1 not found");
    const quiet = createLogger({ level: "error", format: "text" });
    const simulator = await runSerialSimulator(
      profile,
      pty.devicePath,
      defaultSimulatorOptions,
      quiet,
    );
    cleanups.push(() => simulator.stop());

    const bundle = installBundle(join(dir, "opt"));
    const configFile = join(dir, "config.yaml");
    const client = pki.clients.gateway;
    writeFileSync(
      configFile,
      `site: bench\ngateway: gw\ndataDir: ${join(dir, "data")}\n` +
        `broker: { url: "${broker.url}", caFile: "${pki.ca.cert}", certFile: "${client?.cert}", keyFile: "${client?.key}" }\n` +
        (opcua ? await opcuaSettings(dir) : "") +
        `devices:\n  - { id: d1, profile: masimo-radical7-ascii1, link: { kind: serial, path: "${pty.hostPath}" } }\n`,
    );
    const startedAt = performance.now();
    const agent = startCli([bundle], ["run", "--config", configFile], dir);
    cleanups.push(async () => {
      await agent.stop();
    });
    let opcuaListeningMs: number | undefined;
    if (opcua) {
      await waitForOutput(() => agent.output(), "opcua server listening", 30_000);
      opcuaListeningMs = performance.now() - startedAt;
    }
    await subscriber.waitFor((m) => m.topic === "iomt/v1/bench/gw/state", 20_000);
    const onlineMs = performance.now() - startedAt;
    await subscriber.waitFor((m) => m.topic.endsWith("/obs"), 20_000);
    const firstObservationMs = performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return {
      onlineMs,
      ...(opcuaListeningMs === undefined ? {} : { opcuaListeningMs }),
      firstObservationMs,
      ...memoryOf(agent.child.pid ?? 0),
    };
  } finally {
    await cleanups.run();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

async function main(): Promise<void> {
  const { values } = parseBenchArgs(
    { runs: { type: "string" }, "settle-ms": { type: "string" }, opcua: { type: "boolean" } },
    usage,
  );
  cleanUpOnSignals();
  const runs = wholeNumberOption(values.runs, "runs", 5, { usage });
  const settleMs = wholeNumberOption(values["settle-ms"], "settle-ms", 5000, { min: 0, usage });
  const results: RunResult[] = [];
  const opcua = values.opcua === true;
  for (let run = 0; run < runs; run++) results.push(await runOnce(settleMs, opcua));
  const bundleBytes = statSync(join(__dirname, "..", "..", "dist", "iomt-gateway.cjs")).size;
  const summary = {
    scenario: opcua ? "startup with OPC UA" : "startup",
    runs,
    settleMs,
    bundleKiB: Math.round(bundleBytes / 1024),
    onlineMsMedian: Math.round(median(results.map((r) => r.onlineMs))),
    ...(opcua
      ? {
          opcuaListeningMsMedian: Math.round(median(results.map((r) => r.opcuaListeningMs ?? NaN))),
        }
      : {}),
    firstObservationMs: results.map((r) => Math.round(r.firstObservationMs)),
    firstObservationMsMedian: Math.round(median(results.map((r) => r.firstObservationMs))),
    rssMbMedian: Number(median(results.map((r) => r.rssMb)).toFixed(1)),
    peakRssMbMedian: Number(median(results.map((r) => r.peakRssMb)).toFixed(1)),
  };
  console.log(JSON.stringify(summary, null, 2));
}

void main();
