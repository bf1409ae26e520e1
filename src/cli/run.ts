import { startAgent } from "../agent.js";
import { startEventLoopLog } from "../health/event-loop.js";
import { formatProblem } from "../config/problems.js";
import { messageOf } from "../errors.js";
import { createLogger } from "../log.js";
import { preflight } from "../preflight.js";
import { startOpcuaWhenEnabled } from "../opcua/handle.js";
import { parseCommandArgs, requireOption } from "./args.js";
import { runtimeSettingsMissing } from "./restart-early.js";

const help = `Usage: iomt-gateway run --config FILE

Runs the agent: reads every configured device and publishes to the broker until it receives
SIGTERM or SIGINT. Refuses to start, listing every problem, when the configuration, a profile
or a certificate file is invalid (the same checks as "iomt-gateway check").

Options:
  --config FILE   The YAML configuration file.
  -h, --help      Show this help.
`;

export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, { config: { type: "string", short: "c" } }, help);
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const configFile = requireOption(values.config, "config", help);
  const checked = preflight(configFile);
  if (!checked.ok) {
    process.stderr.write(`CONFIG_INVALID: not starting, ${checked.problems.length} problem(s):\n`);
    for (const problem of checked.problems) process.stderr.write(`  ${formatProblem(problem)}\n`);
    return 1;
  }
  const { config } = checked.prepared;
  const log = createLogger({ level: config.log.level, format: config.log.format });
  for (const { id, file, overridden } of checked.prepared.profileOverrides) {
    log.info("profile file overrides another with the same id", { profile: id, file, overridden });
  }
  if (runtimeSettingsMissing !== undefined) {
    log.warn(
      "running on Node's memory defaults: Node was not restarted with the agent's settings",
      { ...runtimeSettingsMissing },
    );
  }
  logUncaughtExceptions(log);
  const opcua = await startOpcuaWhenEnabled(checked.prepared, log);
  const agent = startAgent(checked.prepared, log, opcua === undefined ? {} : { opcua });
  const stopEventLoopLog = startEventLoopLog(log.child("perf"));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.info("already stopping; signal ignored", { signal });
        return;
      }
      stopping = true;
      log.info("stopping", { signal });
      stopEventLoopLog();
      agent.stop().then(
        () => resolve(0),
        () => resolve(0),
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    // A gateway configured to manage its firewall (egress.firewall.manage) must not run without it.
    agent.started.catch((error: unknown) => {
      log.error("not starting", { error: messageOf(error) });
      stopEventLoopLog();
      agent.stop().then(
        () => resolve(1),
        () => resolve(1),
      );
    });
  });
}

/**
 * Logs an exception nothing caught (such as one thrown inside node-opcua's request handling) as
 * a JSON error line before the process exits with code 1. It does not keep the agent running,
 * because the library that threw may be left half-way through a change. The service manager
 * restarts the agent, and the outbox keeps the records not yet sent.
 */
export function logUncaughtExceptions(log: ReturnType<typeof createLogger>): void {
  process.once("uncaughtException", (error: unknown, origin: string) => {
    const stack = error instanceof Error ? error.stack : undefined;
    log.error("uncaught exception, exiting", { error: messageOf(error), origin, stack });
    process.exit(1);
  });
}
