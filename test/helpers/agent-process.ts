/**
 * Runs the agent as a user would: the CLI in a child process, either from the sources (tsx) or
 * from the built bundle copied to a folder with no node_modules.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(__dirname, "..", "..");

export type AgentBuild = "source" | "bundle";

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Copies dist/ to `dir` so the bundle runs with no node_modules above it. */
export function installBundle(dir: string): string {
  const dist = join(repoRoot, "dist", "iomt-gateway.cjs");
  if (!existsSync(dist))
    throw new Error("dist/iomt-gateway.cjs is missing; run npm run build first");
  cpSync(join(repoRoot, "dist"), dir, { recursive: true });
  return join(dir, "iomt-gateway.cjs");
}

export function cliCommand(build: AgentBuild, bundleFile?: string): string[] {
  if (build === "bundle") return [bundleFile ?? join(repoRoot, "dist", "iomt-gateway.cjs")];
  return ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts")];
}

export interface StartOptions {
  /** Changes to the child's environment: a variable given as undefined is removed. */
  env?: Record<string, string | undefined>;
  /** An IPC channel to the child, as `child_process.fork` opens. */
  ipc?: boolean;
}

/**
 * Starts the CLI. Source runs start in the repository, where `--import tsx` resolves; the
 * bundle starts in `cwd`, away from any node_modules.
 */
export function startCli(
  command: string[],
  args: string[],
  cwd: string,
  options: StartOptions = {},
): AgentProcess {
  const fromSource = command[0] === "--import";
  const child = spawn(process.execPath, [...command, ...args], {
    cwd: fromSource ? repoRoot : cwd,
    env: childEnv(options.env),
    stdio: options.ipc === true ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return {
    child,
    output: () => text,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

function childEnv(changes: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Runs a CLI command to completion and returns its exit code and output. */
export async function runCli(command: string[], args: string[], cwd: string) {
  const process = startCli(command, args, cwd);
  const code = await process.exited;
  return { code, output: process.output() };
}
