import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { dataLine, endLine, headerLine, parseCapture } from "../../src/capture/file.js";
import { renderReplay, replayCommand, type ReplayOptions } from "../../src/cli/replay.js";
import { hasCode } from "../../src/errors.js";
import { testVectorSchema } from "../../src/profiles/common.js";
import { builtInProfileDirs, loadProfiles } from "../../src/profiles/load.js";
import { runVector } from "../../src/profiles/vectors.js";
import { cliCommand, runCli } from "../helpers/agent-process.js";
import { tempDir } from "../helpers/tmp.js";
import { packet } from "../protocols/nonin/packets.js";

const profileId = "nonin-wristox2-3150-df8";

/** Format 8 records a second apart: HR 150, then HR 300 with low battery, then sensor off. */
function writeCapture(dir: string): string {
  const file = join(dir, "bed4.jsonl");
  const lines = [
    headerLine({
      profile: profileId,
      profileVersion: "1.0.0",
      link: "serial /dev/ttyUSB0 9600 8N1",
      writes: "none",
      startedAt: "2026-12-04T18:00:00.000Z",
    }),
    dataLine(40, "in", Buffer.from("811661", "hex")),
    dataLine(41, "in", Buffer.from("00", "hex")),
    dataLine(1040, "in", Buffer.from("822c6001", "hex")),
    dataLine(1050, "out", Buffer.from("06", "hex")),
    dataLine(2040, "in", Buffer.from("c37f7f00", "hex")),
    endLine({ ms: 2500, reason: "duration", bytesIn: 12, bytesOut: 1 }),
  ];
  writeFileSync(file, lines.join(""));
  return file;
}

/** Runs the CLI in a child process, as a technician does. */
async function replay(dir: string, args: string[]) {
  return runCli(cliCommand("source"), ["replay", ...args], dir);
}

/** Renders a replay in this process, for the output checks that need no child process. */
function render(file: string, options: ReplayOptions): string {
  return renderReplay(parseCapture(readFileSync(file, "utf8"), file), file, options);
}

test("replay prints a table", async (t) => {
  const dir = tempDir(t);
  const result = await replay(dir, [writeCapture(dir)]);
  t.is(result.code, 0, result.output);
  const rows = result.output.split("\n").map((line) => line.trim().split(/\s+/));
  const data = rows.filter((row) => /^\d+\.\d{3}$/.test(row[0] ?? ""));
  t.deepEqual(
    data.map((row) => row.slice(0, 4).join(" ")),
    [
      "0.041 HR 150 /min",
      "0.041 SPO2 97 %",
      "1.040 HR 300 /min",
      "1.040 SPO2 96 %",
      "1.040 low-battery alarm active",
      "2.040 HR (absent) /min",
      "2.040 SPO2 (absent) %",
      "2.040 sensor-disconnect alarm active",
      "2.040 low-battery alarm cleared",
    ],
  );
  t.regex(result.output, /nonin-wristox2-3150-df8@1\.0\.0: 12 bytes, 3 frames, 0 checksum errors/);
  t.regex(result.output, /unmapped codes: none/);
});

test("replay --json prints one object per line", (t) => {
  const dir = tempDir(t);
  const lines = render(writeCapture(dir), { json: true })
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const observations = lines.filter((line) => line.kind === "observation");
  t.deepEqual(
    observations.map((line) => [line.ms, line.deviceCode, line.value, line.absentReason]),
    [
      [41, "HR", 150, undefined],
      [41, "SPO2", 97, undefined],
      [1040, "HR", 300, undefined],
      [1040, "SPO2", 96, undefined],
      [2040, "HR", null, "absent"],
      [2040, "SPO2", null, "absent"],
    ],
  );
  t.deepEqual(observations[0], {
    ms: 41,
    kind: "observation",
    deviceCode: "HR",
    mdcCode: 149530,
    mdcRefId: "MDC_PULS_OXIM_PULS_RATE",
    value: 150,
    unit: "/min",
  });
  const alarms = lines.filter((line) => line.kind === "alarm");
  t.deepEqual(
    alarms.map((line) => `${String(line.alarmCode)} ${String(line.state)}`),
    ["low-battery active", "sensor-disconnect active", "low-battery cleared"],
  );
  const summary = lines.at(-1);
  t.is(summary?.kind, "summary");
  t.is(summary?.frames, 3);
  t.is(summary?.bytesIn, 12, "the byte the gateway wrote is not device input");
  t.is(summary?.discardedBytes, 0);
});

test("replay --vector prints a vector that passes", (t) => {
  const dir = tempDir(t);
  const output = render(writeCapture(dir), { vector: true, name: "bed 4 sample" });
  const [item] = parse(output) as unknown[];
  const vector = testVectorSchema.parse(item);
  t.is(vector.name, "bed 4 sample");
  t.is(vector.hex, "81 16 61 00 82 2C 60 01 C3 7F 7F 00\n");
  t.is(vector.expect.frames, 3);
  const profile = loadProfiles(builtInProfileDirs()).profiles.get(profileId)?.profile;
  if (profile === undefined) return t.fail("profile missing");
  t.deepEqual(runVector(profile, vector).failures, []);
});

test("replay decodes with another profile", (t) => {
  const dir = tempDir(t);
  const output = render(writeCapture(dir), { profile: "nonin-oem3-df2", json: true });
  const summary = JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;
  t.is(summary.frames, 0, "format 8 records are no format 2 packets");
  t.is(summary.discardedBytes, 12 - 4, "the last 4 bytes stay buffered as a possible frame");
});

test("replay shows the pleth wave of format 7", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "onyx.jsonl");
  const header = headerLine({
    profile: "nonin-onyx2-9560-df7",
    profileVersion: "1.0.0",
    link: "serial /dev/rfcomm0 9600 8N1",
    writes: "session",
    startedAt: "2026-12-04T18:00:00.000Z",
  });
  writeFileSync(
    file,
    header + dataLine(300, "in", packet(7)) + dataLine(633, "in", packet(7, { heartRate: 300 })),
  );
  const lines = render(file, { json: true })
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const waves = lines.filter((line) => line.kind === "wave");
  const samples = waves.flatMap((line) => line.samples as number[]);
  const onePacket = Array.from({ length: 25 }, (_, index) => 0x4000 + index * 0x100);
  t.deepEqual(samples, [...onePacket, ...onePacket]);
  t.is(waves[0]?.mdcRefId, "MDC_PULS_OXIM_PLETH");
  t.deepEqual(
    lines.filter((line) => line.deviceCode === "HR").map((line) => line.value),
    [72, 300],
  );
  t.regex(render(file, {}), /wave samples: PLETH \(MDC_PULS_OXIM_PLETH\) 50/);
});

test("replay rejects a file that is not a capture", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "notes.txt");
  writeFileSync(file, '{"type":"header"}\nnot json\n');
  const result = await replay(dir, [file]);
  t.is(result.code, 1);
  t.regex(
    result.output,
    /CAPTURE_INVALID: .*notes\.txt is not a valid capture file: line 1: format/,
  );
  t.regex(result.output, /line 2 is not JSON/);
});

test("replay needs exactly one file", (t) => {
  for (const args of [[], ["a.jsonl", "b.jsonl"]]) {
    const error = t.throws(() => replayCommand(args));
    t.true(hasCode(error, "CLI_USAGE"), String(error));
    t.regex(error?.message ?? "", /replay needs exactly one capture FILE/);
  }
  const both = t.throws(() => replayCommand(["a.jsonl", "--json", "--vector"]));
  t.regex(both?.message ?? "", /give at most one of --json and --vector/);
});
