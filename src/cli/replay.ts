import { readFileSync } from "node:fs";
import { parseCapture, type Capture } from "../capture/file.js";
import { vectorYaml } from "../capture/vector.js";
import type { AlarmChange } from "../device/alarms.js";
import type { Measurement } from "../device/measurements.js";
import type { WaveSegment } from "../device/waves.js";
import { GatewayError, messageOf } from "../errors.js";
import type { Profile } from "../profiles/schema.js";
import {
  observedResult,
  replayChunks,
  type ReplayOutcome,
  type ReplayStep,
} from "../profiles/vectors.js";
import { parseCommandArgs, profileDirsOption } from "./args.js";
import { findProfile } from "./find-profile.js";

const help = `Usage: iomt-gateway replay FILE [--profile ID] [--json | --vector [--name TEXT]]

Runs the device bytes of a capture file (from "iomt-gateway capture") through the same
pipeline as the agent and the profile test vectors, and prints what they decode to: a table
for a person, or with --json one JSON object per line (observation, alarm, wave, error,
then a summary). As in a test vector, every response counts as expected and a line framer does not
skip the first line, so a capture that starts mid-line shows one decode error.
--vector prints the bytes and their result as a test vector to paste into a profile's
testVectors list.

Options:
  --profile ID          Profile to decode with (default: the one the capture names).
  --profiles-dir DIR    Extra folder of profiles, searched first.
  --json                One JSON object per line instead of a table.
  --vector              A YAML test vector instead of a table.
  --name TEXT           The vector's name (default: the capture file's name).
  -h, --help            Show this help.
`;

/** Decode errors printed in the table; the summary counts all of them. */
const maxShownErrors = 10;

export function replayCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      profile: { type: "string" },
      "profiles-dir": { type: "string" },
      json: { type: "boolean" },
      vector: { type: "boolean" },
      name: { type: "string" },
    },
    help,
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return Promise.resolve(0);
  }
  const [file, extra] = positionals;
  if (file === undefined || extra !== undefined) {
    throw new GatewayError("CLI_USAGE", `replay needs exactly one capture FILE\n\n${help}`);
  }
  if (values.json === true && values.vector === true) {
    throw new GatewayError("CLI_USAGE", `give at most one of --json and --vector\n\n${help}`);
  }
  process.stdout.write(renderReplay(readCapture(file), file, values));
  return Promise.resolve(0);
}

export interface ReplayOptions {
  profile?: string;
  "profiles-dir"?: string;
  json?: boolean;
  vector?: boolean;
  name?: string;
}

/** Decodes the capture's device bytes and returns them as a table, JSON lines or a vector. */
export function renderReplay(capture: Capture, file: string, values: ReplayOptions): string {
  const profileId = values.profile ?? capture.header.profile;
  const profile = findProfile(profileId, profileDirsOption(values["profiles-dir"]));
  if (profile.id === capture.header.profile && profile.version !== capture.header.profileVersion) {
    process.stderr.write(
      `note: ${file} was captured with ${profile.id}@${capture.header.profileVersion}; ` +
        `decoding with ${profile.version}\n`,
    );
  }
  const input = capture.data.filter((item) => item.dir === "in");
  const chunks = input.map((item) => ({ bytes: Buffer.from(item.hex, "hex"), atMs: item.ms }));
  const outcome = replayChunks(profile, chunks);
  if (values.vector === true) {
    const bytes = Buffer.concat(chunks.map((chunk) => chunk.bytes));
    return vectorYaml(values.name ?? file, bytes, observedResult(outcome));
  }
  if (values.json === true) {
    return jsonLines(outcome)
      .map((line) => `${JSON.stringify(line)}\n`)
      .join("");
  }
  return table(profile, outcome);
}

function readCapture(file: string): Capture {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new GatewayError("CLI_USAGE", `cannot read ${file} (${messageOf(error)})`);
  }
  return parseCapture(text, file);
}

/** One decoded item of a replay, at its time in ms from the capture's start. */
type ReplayItem =
  | { ms: number; kind: "observation"; measurement: Measurement; deviceTime?: string }
  | { ms: number; kind: "alarm"; alarm: AlarmChange }
  | { ms: number; kind: "wave"; segment: WaveSegment }
  | { ms: number; kind: "error"; error: GatewayError };

function itemsOf({ atMs: ms, result }: ReplayStep): ReplayItem[] {
  const items: ReplayItem[] = [];
  for (const batch of result.batches) {
    for (const measurement of batch.measurements) {
      const item: ReplayItem = { ms, kind: "observation", measurement };
      if (batch.deviceTime !== undefined) item.deviceTime = batch.deviceTime;
      items.push(item);
    }
  }
  for (const alarm of result.alarms) items.push({ ms, kind: "alarm", alarm });
  for (const segment of result.segments) items.push({ ms, kind: "wave", segment });
  for (const error of result.errors) items.push({ ms, kind: "error", error });
  return items;
}

/** Returns every item of the replay, with the wave segments still open at its end. */
function allItems(outcome: ReplayOutcome): ReplayItem[] {
  const endMs = outcome.steps.at(-1)?.atMs ?? 0;
  const last = outcome.lastSegments.map((segment) => ({
    ms: endMs,
    kind: "wave" as const,
    segment,
  }));
  return [...outcome.steps.flatMap(itemsOf), ...last];
}

function jsonLines(outcome: ReplayOutcome): Record<string, unknown>[] {
  const lines = allItems(outcome).map((item) => {
    switch (item.kind) {
      case "observation": {
        const { deviceCode, mdcCode, mdcRefId, value, unit, absentReason } = item.measurement;
        return {
          ms: item.ms,
          kind: item.kind,
          deviceCode,
          mdcCode,
          mdcRefId,
          value,
          unit,
          ...(absentReason === undefined ? {} : { absentReason }),
          ...(item.deviceTime === undefined ? {} : { deviceTime: item.deviceTime }),
        };
      }
      case "alarm":
        return { ms: item.ms, kind: item.kind, ...item.alarm };
      case "wave": {
        const { deviceCode, mdcCode, mdcRefId, unit, samplePeriodMs, samples } = item.segment;
        return {
          ms: item.ms,
          kind: item.kind,
          deviceCode,
          mdcCode,
          mdcRefId,
          unit,
          samplePeriodMs,
          samples,
        };
      }
      case "error":
        return { ms: item.ms, kind: item.kind, code: item.error.code, message: item.error.message };
    }
  });
  return [
    ...lines,
    { kind: "summary", ...outcome.counters, unmappedCodes: unmappedCounts(outcome) },
  ];
}

function unmappedCounts(outcome: ReplayOutcome): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const step of outcome.steps) {
    for (const code of step.result.unmapped) counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}

/** Formats the replay as aligned columns, then error lines and a summary. */
function table(profile: Profile, outcome: ReplayOutcome): string {
  const rows: string[][] = [["time s", "code", "value", "unit", "measurement"]];
  const errors: string[] = [];
  const waveSamples = new Map<string, number>();
  for (const item of allItems(outcome)) {
    const time = (item.ms / 1000).toFixed(3);
    if (item.kind === "observation") {
      const m = item.measurement;
      const value = m.value === null ? `(${m.absentReason ?? "absent"})` : String(m.value);
      rows.push([time, m.deviceCode, value, m.unit, `${m.mdcRefId} ${m.mdcCode}`]);
    } else if (item.kind === "alarm") {
      const { alarmCode, state, text } = item.alarm;
      rows.push([time, alarmCode, `alarm ${state}`, "", text]);
    } else if (item.kind === "wave") {
      const key = `${item.segment.deviceCode} (${item.segment.mdcRefId})`;
      waveSamples.set(key, (waveSamples.get(key) ?? 0) + item.segment.samples.length);
    } else {
      errors.push(`${time}  ${item.error.message}`);
    }
  }
  const shownErrors = errors.slice(0, maxShownErrors);
  if (errors.length > maxShownErrors) {
    shownErrors.push(`... and ${errors.length - maxShownErrors} more errors`);
  }
  return [
    ...alignColumns(rows),
    ...(shownErrors.length > 0 ? ["", ...shownErrors] : []),
    "",
    ...summaryLines(profile, outcome),
    `wave samples: ${waveSamples.size === 0 ? "none" : [...waveSamples].map(([key, count]) => `${key} ${count}`).join(", ")}`,
    "",
  ].join("\n");
}

/** Pads every column to its widest cell; the time column is right-aligned. */
function alignColumns(rows: string[][]): string[] {
  const columns = rows[0]?.length ?? 0;
  const widths = Array.from({ length: columns }, (_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return column === 0 ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd(),
  );
}

function summaryLines(profile: Profile, outcome: ReplayOutcome): string[] {
  const c = outcome.counters;
  const unmapped = Object.entries(unmappedCounts(outcome)).map(
    ([code, count]) => `${code} x${count}`,
  );
  return [
    `${profile.id}@${profile.version}: ${c.bytesIn} bytes, ${c.frames} frames, ` +
      `${c.checksumErrors} checksum errors, ${c.decodeErrors} decode errors, ` +
      `${c.discardedBytes} bytes discarded`,
    `unmapped codes: ${unmapped.length === 0 ? "none" : unmapped.join(", ")}`,
  ];
}
