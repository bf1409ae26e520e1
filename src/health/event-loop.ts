/**
 * An event-loop delay monitor for benchmarks, off unless IOMT_GATEWAY_EVENT_LOOP_LOG_MS is set:
 * every that many milliseconds it logs the delay's p50, p99 and maximum since the last line
 * (perf_hooks.monitorEventLoopDelay), then starts a fresh histogram.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Logger } from "../log.js";

export const eventLoopLogVariable = "IOMT_GATEWAY_EVENT_LOOP_LOG_MS";

/**
 * The monitor's timer period. Node records the time between its timer's runs, so a free loop
 * shows this period; the logged figures are the delay beyond it.
 */
const resolutionMs = 10;

/** Starts the monitor when the variable is a positive number; returns a function to stop it. */
export function startEventLoopLog(log: Logger, env = process.env): () => void {
  const intervalMs = Number(env[eventLoopLogVariable] ?? 0);
  if (!(intervalMs > 0)) return () => undefined;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const timer = setInterval(() => {
    log.info("event loop delay", {
      p50Ms: histogram.percentile(50) / 1e6 - resolutionMs,
      p99Ms: histogram.percentile(99) / 1e6 - resolutionMs,
      maxMs: histogram.max / 1e6 - resolutionMs,
    });
    histogram.reset();
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram.disable();
  };
}
