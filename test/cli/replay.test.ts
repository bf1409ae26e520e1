import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { dataLine, endLine, headerLine } from "../../src/capture/file.js";
import { maxVectorBytes } from "../../src/cli/replay-render.js";
import { replayCommand, replayLines, type ReplayOptions } from "../../src/cli/replay.js";
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

/** Replays the lines of a capture in this process; returns what it printed. */
async function replayText(text: string, file: string, options: ReplayOptions) {
  let stdout = "";
  const warnings: string[] = [];
  const output = {
    write: (chunk: string) => void (stdout += chunk),
    warn: (line: string) => void warnings.push(line),
  };
  await replayLines(text.split("\n"), file, options, output);
  return { stdout, warnings };
}

/** Renders a replay in this process, for the output checks that need no child process. */
async function render(file: string, options: ReplayOptions): Promise<string> {
  return (await replayText(readFileSync(file, "utf8"), file, options)).stdout;
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
  t.regex(
    result.output,
    /nonin-wristox2-3150-df8@1\.0\.0: 12 bytes in, 3 frames, 0 checksum errors/,
  );
  t.regex(result.output, /unmapped codes: none/);
});

test("replay --json prints one object per line", async (t) => {
  const dir = tempDir(t);
  const lines = (await render(writeCapture(dir), { json: true }))
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
  t.is(summary?.bytesOut, 1, "the byte the capture recorded as written");
  t.is(summary?.bufferedBytes, 0);
});

test("replay --vector prints a vector that passes", async (t) => {
  const dir = tempDir(t);
  const output = await render(writeCapture(dir), { vector: true, name: "bed 4 sample" });
  const [item] = parse(output) as unknown[];
  const vector = testVectorSchema.parse(item);
  t.is(vector.name, "bed 4 sample");
  t.is(vector.hex, "81 16 61 00 82 2C 60 01 C3 7F 7F 00\n");
  t.is(vector.expect.frames, 3);
  const profile = loadProfiles(builtInProfileDirs()).profiles.get(profileId)?.profile;
  if (profile === undefined) return t.fail("profile missing");
  t.deepEqual(runVector(profile, vector).failures, []);
});

test("replay decodes with another profile", async (t) => {
  const dir = tempDir(t);
  const file = writeCapture(dir);
  const { stdout, warnings } = await replayText(readFileSync(file, "utf8"), file, {
    profile: "nonin-oem3-df2",
    json: true,
  });
  const summary = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;
  t.is(summary.frames, 0, "format 8 records are no format 2 packets");
  t.is(summary.discardedBytes, 12 - 4);
  t.is(summary.bufferedBytes, 4, "the last 4 bytes stay buffered as a possible frame");
  t.is(warnings.length, 1);
  t.regex(warnings[0] ?? "", /captured for nonin-wristox2-3150-df8; decoding it as nonin-oem3-df2/);
});

test("replay table counts buffered bytes", async (t) => {
  const dir = tempDir(t);
  const output = await render(writeCapture(dir), { profile: "nonin-oem3-df2" });
  t.regex(output, /12 bytes in, 0 frames, .* 8 bytes discarded, 4 bytes of an incomplete frame/);
  t.regex(output, /bytes written to the device \(as recorded\): 1/);
});

test("replay notes a capture without device bytes", async (t) => {
  const header = headerLine({
    profile: profileId,
    profileVersion: "1.0.0",
    link: "serial /dev/ttyUSB0 9600 8N1",
    writes: "none",
    startedAt: "2026-12-04T18:00:00.000Z",
  });
  const text = header + endLine({ ms: 5000, reason: "duration", bytesIn: 0, bytesOut: 0 });
  const { stdout, warnings } = await replayText(text, "quiet.jsonl", {});
  t.regex(stdout, /no device bytes in this capture/);
  t.deepEqual(warnings, ["note: no device bytes in quiet.jsonl"]);
});

test("replay shows the pleth wave of format 7", async (t) => {
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
  const lines = (await render(file, { json: true }))
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
  t.regex(await render(file, {}), /wave samples: PLETH \(MDC_PULS_OXIM_PLETH\) 50/);
});

test("replay rejects a file that is not a capture", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "notes.txt");
  writeFileSync(file, '{"type":"header"}\nnot json\n');
  const result = await replay(dir, [file]);
  t.is(result.code, 1);
  t.regex(
    result.output,
    /CAPTURE_INVALID: .*notes\.txt is not a valid capture file: line 1: field "format" is missing/,
  );
});

test("replay needs exactly one file", async (t) => {
  for (const args of [[], ["a.jsonl", "b.jsonl"]]) {
    const error = await t.throwsAsync(() => replayCommand(args));
    t.true(hasCode(error, "CLI_USAGE"), String(error));
    t.regex(error?.message ?? "", /replay needs exactly one capture FILE/);
  }
  const both = await t.throwsAsync(() => replayCommand(["a.jsonl", "--json", "--vector"]));
  t.regex(both?.message ?? "", /give at most one of --json and --vector/);
});

const onyxHeader = headerLine({
  profile: "nonin-onyx2-9560-df7",
  profileVersion: "1.0.0",
  link: "serial /dev/rfcomm0 9600 8N1",
  writes: "session",
  startedAt: "2026-12-04T18:00:00.000Z",
});

/** Returns a format 7 capture of `count` packets, a third of a second apart, built in memory. */
function onyxCapture(count: number): string {
  const line = (index: number) => dataLine(index * 333, "in", packet(7));
  return onyxHeader + Array.from({ length: count }, (_, index) => line(index)).join("");
}

test("replay table of a large capture", async (t) => {
  // 140,000 rows: aligning the whole table with Math.max(...widths) overflowed the call stack
  // of Node 24 above about 125,000 rows.
  const packets = 70_000;
  const { stdout } = await replayText(onyxCapture(packets), "large.jsonl", {});
  t.regex(stdout, new RegExp(`${packets * 125} bytes in, ${packets} frames, 0 checksum`));
  t.regex(stdout, new RegExp(`wave samples: PLETH \\(MDC_PULS_OXIM_PLETH\\) ${packets * 25}\n`));
  const heartRates = stdout.split("\n").filter((line) => /^\s*[\d.]+\s+HR\s+72\s/.test(line));
  t.is(heartRates.length, packets);
});

test("replay --json of a large capture", async (t) => {
  const packets = 20_000;
  const { stdout } = await replayText(onyxCapture(packets), "large.jsonl", { json: true });
  const lines = stdout.trim().split("\n");
  const summary = JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown>;
  t.is(summary.frames, packets, "a format 7 packet counts as one frame");
  t.is(summary.decodeErrors, 0);
  const heartRates = lines.filter((line) => line.includes('"deviceCode":"HR"'));
  t.is(heartRates.length, packets);
  const samples = lines
    .filter((line) => line.includes('"kind":"wave"'))
    .reduce((sum, line) => sum + (JSON.parse(line) as { samples: unknown[] }).samples.length, 0);
  t.is(samples, packets * 25);
});

test("replay --vector rejects a large capture", async (t) => {
  const packets = Math.floor(maxVectorBytes / 125) + 1;
  const error = await t.throwsAsync(() =>
    replayText(onyxCapture(packets), "long.jsonl", { vector: true }),
  );
  t.true(hasCode(error, "CAPTURE_TOO_LARGE"), String(error));
  t.regex(error?.message ?? "", /more than 65536 bytes of device input/);
  t.regex(error?.message ?? "", /--duration SECONDS/);
  const fits = await replayText(onyxCapture(packets - 1), "long.jsonl", { vector: true });
  const [item] = parse(fits.stdout) as unknown[];
  t.is(testVectorSchema.parse(item).expect.frames, packets - 1);
});

test("replay skips a cut last line", async (t) => {
  const text = onyxCapture(3) + '{"type":"data","ms":999,"dir":"in","hex":"01';
  const { stdout, warnings } = await replayText(text, "cut.jsonl", { json: true });
  const summary = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  t.is(summary.frames, 3);
  t.deepEqual(warnings, [
    "warning: cut.jsonl: skipped line 5, which is not JSON: " +
      "the capture was cut off while writing its last line",
  ]);
});

test("replay rejects a cut line before the last", async (t) => {
  const lines = onyxCapture(3).split("\n");
  lines[2] = (lines[2] ?? "").slice(0, 20);
  const error = await t.throwsAsync(() => replayText(lines.join("\n"), "cut.jsonl", {}));
  t.true(hasCode(error, "CAPTURE_INVALID"), String(error));
  t.regex(error?.message ?? "", /cut\.jsonl is not a valid capture file: line 3 is not JSON;/);
});

test("replay names the field, rule and value", async (t) => {
  const cases: [string, RegExp][] = [
    [
      '{"type":"data","ms":0,"dir":"in","hex":"0A"}',
      /line 2: field "hex" must be pairs of lower-case hex digits, got "0A"/,
    ],
    [
      '{"type":"data","ms":1e300,"dir":"in","hex":"0a"}',
      /line 2: field "ms" must be a whole number of ms, got 1e\+300/,
    ],
    [
      '{"type":"data","ms":-1,"dir":"in","hex":"0a"}',
      /line 2: field "ms" must be 0 or more, got -1/,
    ],
    [
      '{"type":"data","ms":0,"dir":"up","hex":"0a"}',
      /line 2: field "dir" must be "in" or "out", got "up"/,
    ],
    ['{"type":"data","ms":0,"dir":"in","hex":"0a","x":1}', /line 2: unknown field "x"/],
    ['{"type":"data","dir":"in","hex":"0a"}', /line 2: field "ms" is missing/],
    [
      '{"type":"data","ms":9,"dir":"in","hex":"0a"}\n{"type":"data","ms":8,"dir":"in","hex":"0a"}',
      /line 3: field "ms" must not be less than the line before it \(9\), got 8/,
    ],
  ];
  for (const [lines, expected] of cases) {
    const error = await t.throwsAsync(() => replayText(`${onyxHeader}${lines}\n`, "bad.jsonl", {}));
    t.true(hasCode(error, "CAPTURE_INVALID"), String(error));
    t.regex(error?.message ?? "", expected);
    t.notRegex(error?.message ?? "", /Invalid input/);
  }
});
