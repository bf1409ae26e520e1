/**
 * The benchmark harness. Each scenario runs the agent from the bundle and the pass-through
 * baseline (scripts/bench/pass-through.cjs) on the same virtual serial ports against a real
 * mosquitto with mutual TLS, prints a table of figures with the agent's ratio to the baseline
 * and writes every figure as JSON to bench-results/<scenario>-<time>.json.
 *
 * Usage: npm run bench -- [SCENARIO ...] [--out DIR]   (default scenario: ward)
 * Scenarios: smoke, ward, ward-numerics, line-rate, growth, startup. See docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot } from "../../test/helpers/agent-process.js";
import { parseBenchArgs } from "./harness/args.js";
import {
  lineRateBudgets,
  printBudgets,
  startBudget,
  wardBudgets,
  type BudgetCheck,
} from "./harness/budgets.js";
import { cleanUpOnSignals, interrupted } from "./harness/cleanups.js";
import { dataDirProblem } from "../../src/config/data-dir.js";
import { messageOf } from "../../src/errors.js";
import { monitorWaveRate, runLoad, type LoadOptions, type LoadResult } from "./harness/load.js";
import { quantile } from "./harness/proc.js";
import type { TargetName } from "./harness/targets.js";

/** Bytes a second a UART at 115200 baud carries with 8N1 framing (10 bits a byte). */
export const lineRateBytesPerSecond = 11_520;

interface Comparison {
  feed: LoadOptions["feed"];
  ports: number;
  bytesPerSecondPerPort: number;
  /** Samples per second of each monitor wave; null for Masimo lines. */
  waveRate: number | null;
  agent: LoadResult;
  passThrough: LoadResult;
}

type LoadShape = Omit<LoadOptions, "target">;

const shape = (ports: number, bytesPerSecond: number, measureMs: number): LoadShape => ({
  feed: "lines",
  ports,
  bytesPerSecond,
  warmupMs: 2000,
  measureMs,
  settleTimeoutMs: 20_000,
});

/**
 * The ward's warm-up before it measures. At the ward's pace V8 made 300 optimizing compiles in
 * the agent's first 10 s and 116 in the next 10 s. A gateway runs for months, so the budget is
 * read after the warm-up, whose CPU is reported separately as warmupCpuShareOfOneCore.
 */
const wardWarmupMs = 20_000;

/** The comparisons of the scenario in progress, saved also when a later one fails. */
const finished: Comparison[] = [];

/**
 * Runs the agent and the pass-through on a load, the agent first unless `passThroughFirst`,
 * and prints their table at once.
 */
async function compare(load: LoadShape, passThroughFirst = false): Promise<Comparison> {
  const run = (target: TargetName) => runLoad({ ...load, target });
  let agent: LoadResult;
  let passThrough: LoadResult;
  if (passThroughFirst) {
    passThrough = await run("pass-through");
    agent = await run("agent");
  } else {
    agent = await run("agent");
    passThrough = await run("pass-through");
  }
  const { feed, ports, bytesPerSecond } = load;
  const waveRate = feed === "monitor" ? (load.waveRate ?? monitorWaveRate) : null;
  const comparison = {
    feed,
    ports,
    bytesPerSecondPerPort: bytesPerSecond,
    waveRate,
    agent,
    passThrough,
  };
  printComparison(comparison);
  finished.push(comparison);
  return comparison;
}

/**
 * Runs a comparison `times` times. Two 30 s ward runs of the same code differed by up to 20 %
 * in CPU on the development machine, so the budgets are read from the median of the ratios,
 * which also goes into the result. The order of the two programs alternates, so that a machine
 * that slows down or speeds up during the scenario does not always favour the same program.
 */
async function compareRepeated(load: LoadShape, times: number) {
  const comparisons: Comparison[] = [];
  for (let run = 0; run < times; run++) comparisons.push(await compare(load, run % 2 === 1));
  return { comparisons, medianRatios: medianRatios(comparisons) };
}

const ratioFigures = [
  "cpuShareOfOneCore",
  "cpuMsPerKiB",
  "warmupCpuShareOfOneCore",
  "peakRssMb",
  "steadyRssMb",
] as const;

function medianRatios(comparisons: Comparison[]): Record<string, number | null> {
  const medians: Record<string, number | null> = {};
  for (const name of ratioFigures) {
    const ratios = comparisons.flatMap(({ agent, passThrough }) => {
      const baseline = passThrough[name];
      const value = agent[name];
      return value === null || baseline === null || baseline === 0 ? [] : [value / baseline];
    });
    medians[name] = ratios.length === 0 ? null : Number(quantile(ratios, 0.5)?.toFixed(2));
  }
  return medians;
}

const scenarios: Record<string, () => Promise<unknown>> = {
  smoke: async () => ({
    comparisons: [await compare({ ...shape(1, 2000, 2500), warmupMs: 500 })],
  }),
  ward: async () => {
    const load: LoadShape = { ...shape(16, 0, 30_000), feed: "monitor", warmupMs: wardWarmupMs };
    const { comparisons, medianRatios } = await compareRepeated(load, 5);
    return { comparisons, medianRatios, budgets: wardBudgets(comparisons, medianRatios) };
  },
  "ward-numerics": async () => ({ comparisons: [await compare(shape(16, 0, 30_000))] }),
  "line-rate": async () => {
    const comparison = await compare(shape(16, lineRateBytesPerSecond, 30_000));
    return { comparisons: [comparison], budgets: lineRateBudgets(comparison) };
  },
  growth: async () => {
    const comparisons: Comparison[] = [];
    for (const bytesPerSecond of [0, lineRateBytesPerSecond]) {
      for (const ports of [1, 4, 16, 32])
        comparisons.push(await compare(shape(ports, bytesPerSecond, 10_000)));
    }
    // Monitors with numerics at 1 Hz and ECG, pleth and ABP waves at 250 samples/s, as in
    // the ward, then 16 of them at 125 and at 500 samples/s, the other rates monitors use.
    const monitors = (ports: number, waveRate: number): LoadShape => ({
      ...shape(ports, 0, 10_000),
      feed: "monitor",
      warmupMs: 3000,
      waveRate,
    });
    for (const ports of [1, 4, 16, 32])
      comparisons.push(await compare(monitors(ports, monitorWaveRate)));
    for (const waveRate of [125, 500]) comparisons.push(await compare(monitors(16, waveRate)));
    return { comparisons };
  },
  startup: startup,
};

/**
 * Start time from the bundle: spawn to the first observation a subscriber receives. The device
 * sends at line rate, a line every 10 or 20 ms, so its cadence adds up to about 20 ms. At 10
 * lines a second the figure moved in steps of 100 ms. A monitor at one line a second would add
 * up to a second more, whatever the agent does.
 */
async function startup() {
  const runs: LoadResult[] = [];
  for (let run = 0; run < 5; run++) {
    runs.push(
      await runLoad({ ...shape(1, lineRateBytesPerSecond, 1000), warmupMs: 0, target: "agent" }),
    );
  }
  const firsts = runs.map((r) => r.spawnToFirstRecordMs);
  const median = quantile(firsts, 0.5);
  return {
    bundleKiB: Math.round(statSync(join(repoRoot, "dist", "iomt-gateway.cjs")).size / 1024),
    spawnToFirstRecordMs: firsts,
    spawnToFirstRecordMsMedian: median,
    budgets: [startBudget(median)],
    peakRssMbMedian: quantile(
      runs.map((r) => r.peakRssMb),
      0.5,
    ),
  };
}

const tableFigures: (keyof LoadResult | `latency.${string}`)[] = [
  "framesExpected",
  "framesLost",
  "seqGaps",
  "unknownMessages",
  "samplesWritten",
  "samplesDelivered",
  "recordsPerSecond",
  "latency.numerics.p50Ms",
  "latency.numerics.p99Ms",
  "latency.numerics.maxMs",
  "latency.alarm.p99Ms",
  "latency.wave.p50Ms",
  "latency.wave.p99Ms",
  "latency.wave.maxMs",
  "latency.line.p50Ms",
  "latency.line.p99Ms",
  "latency.line.maxMs",
  "cpuShareOfOneCore",
  "cpuSecondsPerThousandRecords",
  "cpuMsPerKiB",
  "warmupCpuShareOfOneCore",
  "peakRssMb",
  "steadyRssMb",
  "diskBytesPerRecord",
  "eventLoopDelayP99Ms",
  "eventLoopDelayMaxMs",
  "slowCommitMaxMs",
  "backlogAtStart",
  "backlogAtEnd",
  "spawnToFirstRecordMs",
];

/**
 * Figures counted per record. For monitors the pass-through's record is a frame and the
 * agent's an observation or a wave message, so the table gives them no ratio.
 */
const perRecordFigures = new Set<string>([
  "framesExpected",
  "recordsPerSecond",
  "cpuSecondsPerThousandRecords",
]);

function figure(result: LoadResult, path: string): number | null {
  let value: unknown = result;
  for (const key of path.split(".")) value = (value as Record<string, unknown> | undefined)?.[key];
  return typeof value === "number" ? value : null;
}

function printComparison(comparison: Comparison): void {
  const rate =
    comparison.feed === "monitor"
      ? `a monitor with waves at ${comparison.waveRate} samples/s`
      : comparison.bytesPerSecondPerPort === 0
        ? "1 line/s"
        : `${comparison.bytesPerSecondPerPort} B/s`;
  console.log(`\n${comparison.ports} port(s), each ${rate}`);
  const rows = tableFigures.map((name) => {
    const agent = figure(comparison.agent, name);
    const base = figure(comparison.passThrough, name);
    // Latency of the baseline is per line; the agent's numerics compare with it.
    const baseline = name.startsWith("latency.numerics")
      ? figure(comparison.passThrough, name.replace("numerics", "line"))
      : base;
    const comparable = comparison.feed !== "monitor" || !perRecordFigures.has(name);
    const ratio =
      comparable && agent !== null && baseline !== null && baseline !== 0
        ? (agent / baseline).toFixed(2)
        : "";
    return [name, String(agent ?? ""), String(base ?? ""), ratio];
  });
  const widths = [0, 1, 2, 3].map((column) =>
    Math.max(
      ...[["figure", "agent", "pass-through", "ratio"], ...rows].map(
        (row) => row[column]?.length ?? 0,
      ),
    ),
  );
  for (const row of [["figure", "agent", "pass-through", "ratio"], ...rows]) {
    console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  "));
  }
}

interface ScenarioResult {
  comparisons?: Comparison[];
  medianRatios?: Record<string, number | null>;
  budgets?: BudgetCheck[];
  /** The error that stopped the scenario before its end. */
  failed?: string;
}

/**
 * Returns the commit of the code measured, with "-modified" when files differ from it, or null
 * outside a git checkout.
 */
function checkedOutCommit(): string | null {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: "pipe" }).trim();
  try {
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") === ""
      ? commit
      : `${commit}-modified`;
  } catch {
    return null;
  }
}

/** Writes a scenario's result with the machine it ran on, and returns the file. */
function writeResult(outDir: string, name: string, startedAt: Date, result: ScenarioResult) {
  const record = {
    scenario: name,
    startedAt: startedAt.toISOString(),
    commit: checkedOutCommit(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "",
    ...result,
  };
  const file = join(outDir, `${name}-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(record, null, 2) + "\n");
  return file;
}

async function main(): Promise<void> {
  const usage =
    "Usage: npm run bench -- [SCENARIO ...] [--out DIR]   (default scenario: ward)\n" +
    `Scenarios: ${Object.keys(scenarios).join(", ")}. See docs/benchmarks.md.`;
  const { values, positionals } = parseBenchArgs({ out: { type: "string" } }, usage, true);
  const names = positionals.length === 0 ? ["ward"] : positionals;
  const unknown = names.filter((name) => !(name in scenarios));
  if (unknown.length > 0) {
    console.error(
      `unknown scenario ${unknown.join(", ")}; choose from ${Object.keys(scenarios).join(", ")}`,
    );
    process.exitCode = 2;
    return;
  }
  // npm runs scripts in the repository, and INIT_CWD is the folder the user ran npm in.
  const outDir = resolve(process.env.INIT_CWD ?? "", values.out ?? join(repoRoot, "bench-results"));
  // Checked first, so that a folder that cannot be written does not cost a whole run.
  const outProblem =
    values.out === "" ? "the value is empty; name a folder" : dataDirProblem(outDir, true);
  if (outProblem !== undefined) {
    console.error(`invalid --out "${values.out}": ${outProblem}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  cleanUpOnSignals();
  for (const name of names) {
    const startedAt = new Date();
    finished.length = 0;
    let result: ScenarioResult;
    try {
      result = (await scenarios[name]?.()) as ScenarioResult;
    } catch (error) {
      if (!interrupted() && finished.length > 0) {
        const failed = messageOf(error);
        const file = writeResult(outDir, name, startedAt, { failed, comparisons: finished });
        console.error(`\nscenario ${name} failed; the comparisons that ended are in ${file}`);
      }
      throw error;
    }
    const file = writeResult(outDir, name, startedAt, result);
    console.log(`\nscenario ${name}: ${file}`);
    if (result.medianRatios !== undefined) {
      console.log(`\nmedian ratio to the pass-through of ${result.comparisons?.length} runs`);
      for (const [figureName, ratio] of Object.entries(result.medianRatios)) {
        console.log(`${figureName.padEnd(30)}${ratio ?? ""}`);
      }
    }
    if (result.comparisons === undefined) console.log(JSON.stringify(result, null, 2));
    if (result.budgets !== undefined) printBudgets(result.budgets);
  }
}

main().catch((error: unknown) => {
  // A signal's cleanup stops the programs, so the run fails; the cleanup then exits.
  if (interrupted()) return;
  console.error(`benchmark failed: ${messageOf(error)}`);
  process.exitCode = 1;
});
