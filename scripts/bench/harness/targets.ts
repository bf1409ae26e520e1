/**
 * The two programs the benchmark measures on the same ports: the agent from the bundle, copied
 * to a folder with no node_modules as on a gateway, and the pass-through baseline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventLoopLogVariable } from "../../../src/health/event-loop.js";
import type { DevPki } from "../../../src/pki/dev-ca.js";
import { installBundle, repoRoot } from "../../../test/helpers/agent-process.js";

export type TargetName = "agent" | "pass-through";

export interface Target {
  child: ChildProcess;
  /** Harness time just before the spawn, after the bundle was copied into place. */
  spawnedAtMs: number;
  /** Event-loop delay lines the target logged, with the harness time they arrived. */
  eventLoop: { atMs: number; p99Ms: number; maxMs: number }[];
  /** Harness times of the agent's "link open" log lines. */
  linkOpenAtMs: number[];
  /** The longest slow outbox commit the agent logged (at most one line a minute), in ms. */
  slowCommitMaxMs: number | null;
  /** Harness time the pass-through program had every port open and the broker connected. */
  readyAtMs: number | undefined;
  output(): string;
  stop(): Promise<void>;
}

export interface TargetOptions {
  dir: string;
  brokerUrl: string;
  pki: DevPki;
  /** Device ids with the host end of each one's serial port. */
  ports: { id: string; path: string }[];
  /** The profile of every device. */
  profile: string;
  /** A folder of profiles the agent searches before its built-in ones. */
  profilesDir: string;
}

/**
 * Node options for the measured program, such as `--cpu-prof` or `--heapsnapshot-signal=SIGUSR2`
 * when profiling; split on spaces.
 */
export const nodeArgsVariable = "IOMT_BENCH_NODE_ARGS";

export function startTarget(name: TargetName, options: TargetOptions): Target {
  const command = name === "agent" ? agentCommand(options) : passThroughCommand(options);
  const nodeArgs = (process.env[nodeArgsVariable] ?? "").split(" ").filter((arg) => arg !== "");
  const spawnedAtMs = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, ...command], {
    cwd: options.dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, [eventLoopLogVariable]: "1000" },
  });
  const target: Target = {
    child,
    spawnedAtMs,
    eventLoop: [],
    linkOpenAtMs: [],
    readyAtMs: undefined,
    slowCommitMaxMs: null,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
  let text = "";
  let partial = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const atMs = performance.now();
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (text.length < 100_000) text += line + "\n";
      if (line.includes('"event loop delay"')) {
        const fields = JSON.parse(line) as { p99Ms: number; maxMs: number };
        target.eventLoop.push({ atMs, p99Ms: fields.p99Ms, maxMs: fields.maxMs });
      }
      if (line.includes('"link open"')) target.linkOpenAtMs.push(atMs);
      if (line.includes('"pass-through ready"')) target.readyAtMs = atMs;
      if (line.includes('"outbox commit was slow')) {
        const { durationMs } = JSON.parse(line) as { durationMs: number };
        target.slowCommitMaxMs = Math.max(target.slowCommitMaxMs ?? 0, durationMs);
      }
    }
  });
  return target;
}

function agentCommand(options: TargetOptions): string[] {
  const { dir, brokerUrl, pki, ports, profile, profilesDir } = options;
  const bundle = installBundle(join(dir, "opt"));
  const gateway = pki.clients.gateway;
  if (gateway === undefined) throw new Error("the PKI has no client named gateway");
  const devices = ports
    .map(
      ({ id, path }) =>
        `  - { id: ${id}, profile: ${profile}, link: { kind: serial, path: "${path}" } }\n`,
    )
    .join("");
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    `site: bench\ngateway: gw\ndataDir: ${join(dir, "data")}\n` +
      `log: { level: info, format: json }\n` +
      `profilesDir: ${profilesDir}\n` +
      `broker: { url: "${brokerUrl}", caFile: "${pki.ca.cert}", certFile: "${gateway.cert}", keyFile: "${gateway.key}" }\n` +
      `devices:\n${devices}`,
  );
  return [bundle, "run", "--config", configFile];
}

/** The byte sequence that ends a frame, per profile: IntelliVue frames end with 0xC1. */
const frameEnds: Record<string, string> = { "philips-intellivue-mp70": "c1" };

function passThroughCommand({ brokerUrl, pki, ports, profile }: TargetOptions): string[] {
  const gateway = pki.clients.gateway;
  if (gateway === undefined) throw new Error("the PKI has no client named gateway");
  return [
    join(repoRoot, "scripts", "bench", "pass-through.cjs"),
    "--url",
    brokerUrl,
    "--ca",
    pki.ca.cert,
    "--cert",
    gateway.cert,
    "--key",
    gateway.key,
    "--frame-end",
    frameEnds[profile] ?? "0d0a",
    ...ports.flatMap(({ id, path }) => ["--port", `${id}=${path}`]),
  ];
}
