import { join } from "node:path";
import { DevicePipeline } from "../../src/device/pipeline.js";
import { loadProfileFile } from "../../src/profiles/load.js";
import { withoutFirstLineSkip } from "../../src/protocols/ascii-line/schema.js";
import { codecFor } from "../../src/protocols/registry.js";
import { repoRoot } from "./agent-process.js";

/**
 * Returns a pipeline on the built-in Masimo Radical-7 profile that decodes from the first line,
 * because test input starts at a line boundary.
 */
export function masimoPipeline(): DevicePipeline {
  const file = join(repoRoot, "firmware-profiles", "masimo-radical7-ascii1.yaml");
  const loaded = loadProfileFile(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const profile = loaded.loaded.profile;
  if (profile.family !== "ascii-line") throw new Error("unexpected family");
  const lineStart = withoutFirstLineSkip(profile);
  return new DevicePipeline(codecFor(lineStart), lineStart, { name: "IOMTGW", revision: "1.0.0" });
}
