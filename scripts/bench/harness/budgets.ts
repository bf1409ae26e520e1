/**
 * The budgets of docs/benchmarks.md, checked against a scenario's result, so that a run reports
 * which it met. CPU and memory are read from the median of the ratios to the pass-through.
 */
import type { LoadResult } from "./load.js";

export interface BudgetCheck {
  budget: string;
  /** The figure the budget was checked against, as the table and docs give it. */
  value: string;
  met: boolean;
}

interface Compared {
  agent: LoadResult;
  passThrough: LoadResult;
}

/** The limit for numerics and alarms, and for a wave segment beyond its window, in ms. */
const latencyLimitMs = 10;

/** Returns the checks of the ward's budgets over its runs and their median ratios. */
export function wardBudgets(
  runs: readonly Compared[],
  medianRatios: Record<string, number | null>,
): BudgetCheck[] {
  const agents = runs.map((run) => run.agent);
  const lost = sum(agents, (agent) => agent.framesLost + agent.seqGaps + agent.unknownMessages);
  const samplesMissing = sum(agents, (agent) => agent.samplesWritten - agent.samplesDelivered);
  const numericsP99 = highest(agents, (agent) => agent.latency.numerics?.p99Ms);
  const alarmP99 = highest(agents, (agent) => agent.latency.alarm?.p99Ms);
  const waveMax = highest(agents, (agent) => agent.latency.wave?.maxMs);
  return [
    {
      budget: "no record lost",
      value: `${lost} lost or unknown, ${samplesMissing} samples missing`,
      met: lost === 0 && samplesMissing === 0,
    },
    latencyCheck("numerics p99 under 10 ms", numericsP99),
    ...(alarmP99 === null ? [] : [latencyCheck("alarm p99 under 10 ms", alarmP99)]),
    latencyCheck("wave segment at most 10 ms after its last sample", waveMax, "maximum"),
    ratioCheck("CPU at most 1.0x the pass-through", medianRatios.cpuShareOfOneCore),
    ratioCheck("peak RSS at most 1.0x the pass-through", medianRatios.peakRssMb),
  ];
}

/** Returns the checks of the line-rate budgets: no loss, no growing backlog, CPU per byte. */
export function lineRateBudgets(run: Compared): BudgetCheck[] {
  const { agent, passThrough } = run;
  const lost = agent.framesLost + agent.seqGaps;
  const ratio = passThrough.cpuMsPerKiB === 0 ? null : agent.cpuMsPerKiB / passThrough.cpuMsPerKiB;
  return [
    {
      budget: "keeps up: no loss, no growing backlog",
      value: `${lost} lost, backlog ${agent.backlogAtStart} then ${agent.backlogAtEnd} frames`,
      met: lost === 0 && agent.backlogAtEnd <= agent.backlogAtStart,
    },
    ratioCheck("CPU per byte at most the pass-through's", ratio),
  ];
}

/** Returns the check of the start budget on the median of the runs. */
export function startBudget(medianMs: number | null): BudgetCheck {
  return {
    budget: "start to first published observation under 1 s",
    value: medianMs === null ? "no record arrived" : `median ${medianMs} ms`,
    met: medianMs !== null && medianMs < 1000,
  };
}

/** Prints the checks, one line each. */
export function printBudgets(checks: readonly BudgetCheck[]): void {
  console.log("\nbudgets (docs/benchmarks.md)");
  for (const check of checks) {
    console.log(`${check.met ? "met   " : "MISSED"}  ${check.budget}: ${check.value}`);
  }
}

function latencyCheck(budget: string, ms: number | null, figure = "p99"): BudgetCheck {
  return {
    budget,
    value: ms === null ? "no record measured" : `highest ${figure} of the runs ${ms} ms`,
    met: ms !== null && ms < latencyLimitMs,
  };
}

function ratioCheck(budget: string, ratio: number | null | undefined): BudgetCheck {
  return {
    budget,
    value: ratio == null ? "not measured" : `${ratio.toFixed(2)}x`,
    met: ratio != null && ratio <= 1,
  };
}

function sum(results: readonly LoadResult[], pick: (result: LoadResult) => number): number {
  return results.reduce((total, result) => total + pick(result), 0);
}

function highest(
  results: readonly LoadResult[],
  pick: (result: LoadResult) => number | null | undefined,
): number | null {
  const values = results.map(pick).filter((value): value is number => typeof value === "number");
  return values.length === 0 ? null : Math.max(...values);
}
