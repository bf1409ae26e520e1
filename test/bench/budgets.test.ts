import test from "ava";
import { lineRateBudgets, startBudget, wardBudgets } from "../../scripts/bench/harness/budgets.js";
import type { LoadResult } from "../../scripts/bench/harness/load.js";

/** Returns a ward run's figures that meet every budget, with `changes` applied. */
function result(changes: Partial<LoadResult> = {}): LoadResult {
  const figures: Partial<LoadResult> = {
    framesLost: 0,
    seqGaps: 0,
    unknownMessages: 0,
    samplesWritten: 1000,
    samplesDelivered: 1000,
    latency: {
      numerics: { count: 10, p50Ms: 1, p99Ms: 4, maxMs: 6 },
      wave: { count: 10, p50Ms: 1, p99Ms: 4, maxMs: 7 },
    },
    cpuMsPerKiB: 1,
    backlogAtStart: 0,
    backlogAtEnd: 0,
    ...changes,
  };
  return figures as LoadResult;
}

const ratios = { cpuShareOfOneCore: 0.94, peakRssMb: 0.84 };
const missed = (checks: { budget: string; met: boolean }[]) =>
  checks.filter((check) => !check.met).map((check) => check.budget);

test("ward budgets all met", (t) => {
  const runs = [{ agent: result(), passThrough: result() }];
  t.deepEqual(missed(wardBudgets(runs, ratios)), []);
});

test("ward budgets name each miss", (t) => {
  const late = result({
    seqGaps: 1,
    latency: {
      numerics: { count: 10, p50Ms: 1, p99Ms: 12, maxMs: 20 },
      wave: { count: 10, p50Ms: 1, p99Ms: 4, maxMs: 15 },
    },
  });
  const runs = [
    { agent: result(), passThrough: result() },
    { agent: late, passThrough: result() },
  ];
  t.deepEqual(missed(wardBudgets(runs, { cpuShareOfOneCore: 1.07, peakRssMb: 0.84 })), [
    "no record lost",
    "numerics p99 under 10 ms",
    "wave segment at most 10 ms after its last sample",
    "CPU at most 1.0x the pass-through",
  ]);
});

test("line rate budgets check backlog and CPU per byte", (t) => {
  const keptUp = { agent: result({ cpuMsPerKiB: 0.95 }), passThrough: result() };
  t.deepEqual(missed(lineRateBudgets(keptUp)), []);
  const behind = { agent: result({ backlogAtEnd: 40, cpuMsPerKiB: 1.2 }), passThrough: result() };
  t.deepEqual(missed(lineRateBudgets(behind)), [
    "keeps up: no loss, no growing backlog",
    "CPU per byte at most the pass-through's",
  ]);
});

test("start budget is under one second", (t) => {
  t.true(startBudget(322).met);
  t.false(startBudget(1000).met);
  t.false(startBudget(null).met);
});
