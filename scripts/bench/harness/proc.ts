/** Reads a process's CPU time, memory and disk writes from /proc, as the benchmark reports them. */
import { readFileSync } from "node:fs";

export interface ProcessSample {
  /** User plus system CPU seconds since the process started. */
  cpuSeconds: number;
  rssMb: number;
  /** Peak resident memory (VmHWM). */
  peakRssMb: number;
  /** Bytes the process caused to reach the block layer (write_bytes of /proc/<pid>/io). */
  writeBytes: number;
}

/** Clock ticks per second of /proc/<pid>/stat; 100 on Linux for x86 and Arm. */
const clockTicksPerSecond = 100;

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces, so fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  return {
    cpuSeconds: ticks / clockTicksPerSecond,
    rssMb: kb("VmRSS") / 1024,
    peakRssMb: kb("VmHWM") / 1024,
    writeBytes: Number(/write_bytes: (\d+)/.exec(io)?.[1] ?? NaN),
  };
}

/** Returns the value at quantile q (0 to 1) of unsorted values, or null for none. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}
