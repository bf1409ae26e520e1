import test from "ava";
import { setTimeout as delay } from "node:timers/promises";
import { SharedIntervals } from "../src/shared-intervals.js";

test("shared intervals run a period's callbacks together", async (t) => {
  const intervals = new SharedIntervals();
  const calls: string[] = [];
  const stopFirst = intervals.every(20, () => calls.push("first"));
  const stopSecond = intervals.every(20, () => calls.push("second"));
  t.teardown(stopFirst);
  t.teardown(stopSecond);
  await delay(70);
  t.true(calls.length >= 2, `called ${calls.length} times`);
  // One timer runs both, in the order they were added, so they alternate.
  calls.forEach((name, index) => t.is(name, index % 2 === 0 ? "first" : "second"));
});

test("shared intervals stop a removed callback", async (t) => {
  const intervals = new SharedIntervals();
  let keptCalls = 0;
  let removedCalls = 0;
  const stopKept = intervals.every(10, () => keptCalls++);
  t.teardown(stopKept);
  const stopRemoved = intervals.every(10, () => removedCalls++);
  stopRemoved();
  stopRemoved();
  await delay(50);
  t.true(keptCalls > 0);
  t.is(removedCalls, 0);
});

test("shared intervals keep the same callback twice", async (t) => {
  const intervals = new SharedIntervals();
  let count = 0;
  const callback = () => count++;
  const stopOne = intervals.every(15, callback);
  const stopOther = intervals.every(15, callback);
  t.teardown(stopOther);
  stopOne();
  await delay(50);
  t.true(count > 0, "the second registration still runs");
});
