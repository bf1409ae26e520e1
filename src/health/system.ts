/**
 * Samples the gateway's own health cheaply, from /proc, /sys and the os module: no shell
 * commands, which would block the event loop.
 */
import { readFile } from "node:fs/promises";
import { statfs } from "node:fs/promises";
import { loadavg, totalmem } from "node:os";

export interface SystemSample {
  load1: number;
  load5: number;
  load15: number;
  memoryTotalMb: number;
  memoryAvailableMb: number;
  cpuTemperatureC: number | null;
  disk: { path: string; totalMb: number; freeMb: number };
  process: { rssMb: number; heapUsedMb: number };
}

const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10;

/** The SoC sensor on a Raspberry Pi and most ARM boards; absent on many virtual machines. */
const thermalZone = "/sys/class/thermal/thermal_zone0/temp";

export async function sampleSystem(dataDir: string): Promise<SystemSample> {
  const [memory, disk, temperature] = await Promise.all([
    readMemory(),
    statfs(dataDir),
    readTemperature(),
  ]);
  const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
  const usage = process.memoryUsage();
  return {
    load1,
    load5,
    load15,
    memoryTotalMb: mb(memory.total),
    memoryAvailableMb: mb(memory.available),
    cpuTemperatureC: temperature,
    disk: {
      path: dataDir,
      totalMb: mb(disk.blocks * disk.bsize),
      freeMb: mb(disk.bavail * disk.bsize),
    },
    process: { rssMb: mb(usage.rss), heapUsedMb: mb(usage.heapUsed) },
  };
}

/**
 * Reads MemTotal and MemAvailable (the kernel's estimate of memory available without swapping,
 * Linux 3.14 and later) from /proc/meminfo, in bytes.
 */
async function readMemory(): Promise<{ total: number; available: number }> {
  const text = await readFile("/proc/meminfo", "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  const total = kib("MemTotal");
  return {
    total: Number.isFinite(total) ? total * 1024 : totalmem(),
    available: (kib("MemAvailable") || 0) * 1024,
  };
}

async function readTemperature(): Promise<number | null> {
  try {
    const milliDegrees = Number((await readFile(thermalZone, "utf8")).trim());
    return Number.isFinite(milliDegrees) ? milliDegrees / 1000 : null;
  } catch {
    return null;
  }
}
