import test, { type ExecutionContext } from "ava";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { installBundle, runCli, type StartOptions } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";
import { connectOpcua } from "../helpers/opcua-client.js";
import { readValue, setUpOpcua, spo2, waitUntil } from "./opcua-scenario.js";
import { buildWorld, expectMainJob, keepWriting, masimoLine, startAgentIn } from "./scenario.js";

/** Starts the bundle, waits for the main job and returns Node's arguments and environment. */
async function runBundle(t: ExecutionContext, nodeArgs: string[], options: StartOptions = {}) {
  const world = await buildWorld(t);
  const bundle = installBundle(join(world.dir, "opt-iomt-gateway"));
  t.false(existsSync(join(world.dir, "node_modules")));
  // The settings come from the test alone, not from the shell that runs it.
  const env = {
    MALLOC_ARENA_MAX: undefined,
    NODE_OPTIONS: undefined,
    IOMT_GATEWAY_RESTARTED: undefined,
    ...options.env,
  };
  const agent = startAgentIn(t, world, [...nodeArgs, bundle], { ...options, env });
  await expectMainJob(t, world);
  const proc = (file: string) =>
    readFileSync(`/proc/${agent.child.pid ?? 0}/${file}`, "utf8").split("\0");
  return { agent, args: proc("cmdline"), env: proc("environ") };
}

test("bundle runs the main job from a folder with no node_modules", async (t) => {
  const { agent, args, env } = await runBundle(t, []);
  // The agent restarted Node in the same process with its memory settings.
  t.true(args.includes("--max-semi-space-size=2"));
  t.true(env.includes("MALLOC_ARENA_MAX=2"));
  t.true(env.includes("IOMT_GATEWAY_RESTARTED=1"));
  t.notRegex(agent.output(), /Node was not restarted/);
  t.is(await agent.stop(), 0, agent.output().slice(-2000));
});

test("bundle keeps the user's semi-space size", async (t) => {
  const { agent, args } = await runBundle(t, ["--max-semi-space-size=4"]);
  t.deepEqual(
    args.filter((arg) => arg.startsWith("--max-semi-space-size")),
    ["--max-semi-space-size=4"],
  );
  t.is(await agent.stop(), 0, agent.output().slice(-2000));
});

const notRestarted = (reason: string) => new RegExp(`Node was not restarted.*"reason":"${reason}`);

test("bundle under a debugger keeps Node's defaults", async (t) => {
  const { agent, args } = await runBundle(t, ["--inspect=127.0.0.1:0"]);
  t.false(args.some((arg) => arg.startsWith("--max-semi-space-size")));
  t.regex(agent.output(), notRestarted("the inspector is open"));
  t.regex(agent.output(), /"settings":\["--max-semi-space-size=2","MALLOC_ARENA_MAX=2"\]/);
  t.is(await agent.stop(), 0, agent.output().slice(-2000));
});

test("bundle keeps its parent's IPC channel", async (t) => {
  const { agent, args } = await runBundle(t, [], { ipc: true, env: { MALLOC_ARENA_MAX: "4" } });
  t.true(agent.child.connected);
  t.false(args.some((arg) => arg.startsWith("--max-semi-space-size")));
  t.regex(agent.output(), notRestarted("the parent's IPC channel is open"));
  // Only the setting that is missing is named.
  t.regex(agent.output(), /"settings":\["--max-semi-space-size=2"\]/);
  t.is(await agent.stop(), 0, agent.output().slice(-2000));
});

test("bundle restarts only once", async (t) => {
  const { agent, args } = await runBundle(t, [], { env: { IOMT_GATEWAY_RESTARTED: "1" } });
  t.false(args.some((arg) => arg.startsWith("--max-semi-space-size")));
  t.regex(agent.output(), notRestarted("the settings were still missing after a restart"));
  t.is(await agent.stop(), 0, agent.output().slice(-2000));
});

test("bundle lists its profiles and passes their vectors", async (t) => {
  const dir = tempDir(t);
  const bundle = installBundle(join(dir, "opt"));
  const { code, output } = await runCli([bundle], ["profiles"], dir);
  t.is(code, 0, output);
  t.regex(output, /masimo-radical7-ascii1@1\.0\.0 .* vectors pass/);
  t.regex(output, /draeger-medibus-evita4@1\.0\.0 .* vectors pass/);
});

test("bundle names the Node it needs on an older Node", (t) => {
  const dir = tempDir(t);
  const bundle = installBundle(join(dir, "opt"));
  // The machine's own Node (20 on Debian 12) is older than the bundle supports.
  const systemNode = "/usr/bin/node";
  const version = existsSync(systemNode)
    ? execFileSync(systemNode, ["--version"], { encoding: "utf8" }).trim()
    : "";
  const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
  if (major === 0 || major >= 22) {
    t.regex(readFileSync(bundle, "utf8").slice(0, 600), /needs Node 22\.13/);
    return;
  }
  const result = spawnSync(systemNode, [bundle, "--version"], { encoding: "utf8" });
  t.is(result.status, 1);
  t.regex(
    result.stderr,
    new RegExp(`needs Node 22\\.13 .*this is ${version.replace(/\./g, "\\.")}`),
  );
});

test("bundle serves OPC UA from a folder with no node_modules", async (t) => {
  const dir = tempDir(t);
  const bundle = installBundle(join(dir, "opt"));
  t.true(existsSync(join(dir, "opt", "opcua.cjs")));
  const setup = await setUpOpcua(t, [bundle]);
  t.teardown(keepWriting(setup.world.masimoDevice, () => masimoLine("096", "070")));
  const connected = await connectOpcua({
    endpointUrl: setup.endpointUrl,
    dir: setup.dir,
    application: setup.trusted,
    user: setup.user,
  });
  t.teardown(() => connected.close());
  await waitUntil(
    async () => (await readValue(connected.session, spo2)).value.value === 96,
    20_000,
    "SpO2 96 from the bundle",
  );
  t.pass();
});
