import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { formatProblem } from "../../src/config/problems.js";
import { tempDir } from "../helpers/tmp.js";

const valid = `site: icu3
gateway: gw-01
dataDir: ./data
broker:
  url: mqtts://broker.example.org:8883
  caFile: ca.crt
  certFile: gw.crt
  keyFile: gw.key
devices:
  - id: bed12-spo2
    profile: masimo-radical7-ascii1
    link: { kind: serial, path: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0 }
`;

function load(t: Parameters<typeof tempDir>[0], text: string) {
  const file = join(tempDir(t), "config.yaml");
  writeFileSync(file, text);
  return { file, result: loadConfig(file) };
}

test("valid config loads with defaults and absolute paths", (t) => {
  const { file, result } = load(t, valid);
  if (!result.ok) return t.fail(result.problems.map(formatProblem).join("\n"));
  t.is(result.config.topicPrefix, "iomt/v1");
  t.is(result.config.broker.keepAliveSeconds, 20);
  t.is(result.config.health.intervalMs, 30_000);
  t.is(result.config.broker.caFile, join(file, "..", "ca.crt"));
  t.regex(result.sha256, /^[0-9a-f]{64}$/);
});

test("plain mqtt URL is rejected with the fix", (t) => {
  const { result } = load(t, valid.replace("mqtts://", "mqtt://"));
  t.false(result.ok);
  if (result.ok) return;
  const [problem] = result.problems;
  t.is(problem?.path, "broker.url");
  t.is(problem?.line, 5);
  t.regex(problem?.message ?? "", /must start with mqtts:\/\//);
  t.regex(problem?.message ?? "", /got "mqtt:\/\/broker\.example\.org:8883"/);
  t.regex(problem?.message ?? "", /8883/);
});

const badConfigs: {
  name: string;
  edit: (text: string) => string;
  path: string;
  line?: number;
  fragment: RegExp;
}[] = [
  {
    name: "baud rate outside the list",
    edit: (text) => text.replace("port0 }", "port0, baudRate: 96000 }"),
    path: "devices[0].link.baudRate",
    line: 12,
    fragment: /must be one of 1200, .*115200 \(got 96000\)/,
  },
  {
    name: "misspelled setting",
    edit: (text) => text.replace("dataDir", "dataDri"),
    path: "dataDri",
    line: 3,
    fragment: /not a known setting/,
  },
  {
    name: "missing data folder",
    edit: (text) => text.replace("dataDir: ./data\n", ""),
    path: "dataDir",
    fragment: /^is missing; add this setting/,
  },
  {
    name: "device id with a space",
    edit: (text) => text.replace("bed12-spo2", "bed 12"),
    path: "devices[0].id",
    line: 10,
    fragment: /letters, digits.*got "bed 12"/,
  },
  {
    name: "unknown link kind",
    edit: (text) => text.replace("kind: serial", "kind: usb"),
    path: "devices[0].link.kind",
    fragment: /got "usb"/,
  },
];

for (const bad of badConfigs) {
  test(`rejects ${bad.name}`, (t) => {
    const { result } = load(t, bad.edit(valid));
    if (result.ok) return t.fail("config was accepted");
    const problem = result.problems.find((p) => p.path === bad.path);
    t.truthy(problem, result.problems.map(formatProblem).join("\n"));
    if (bad.line !== undefined) t.is(problem?.line, bad.line);
    t.regex(problem?.message ?? "", bad.fragment);
  });
}

test("every problem is reported at once", (t) => {
  const text = valid
    .replace("mqtts://", "mqtt://")
    .replace("gw-01", "gw 01")
    .replace("port0 }", "port0, baudRate: 12 }");
  const { result } = load(t, text);
  if (result.ok) return t.fail("config was accepted");
  t.deepEqual(result.problems.map((p) => p.path).sort(), [
    "broker.url",
    "devices[0].link.baudRate",
    "gateway",
  ]);
});

test("duplicate device ids are rejected", (t) => {
  const text = `${valid}  - id: bed12-spo2\n    profile: x\n    link: { kind: tcp, host: 127.0.0.1, port: 4001 }\n`;
  const { result } = load(t, text);
  if (result.ok) return t.fail("config was accepted");
  const problem = result.problems.find((p) => p.path === "devices[1].id");
  t.regex(problem?.message ?? "", /unique.*devices\[0\]/);
  t.is(problem?.line, 13);
});

test("YAML syntax errors carry their line", (t) => {
  const { result } = load(t, valid.replace("  caFile: ca.crt", "  caFile: [ca.crt"));
  if (result.ok) return t.fail("config was accepted");
  t.regex(result.problems[0]?.message ?? "", /invalid YAML/);
  t.truthy(result.problems[0]?.line);
});

test("missing file is reported, not thrown", (t) => {
  const result = loadConfig(join(tempDir(t), "absent.yaml"));
  if (result.ok) return t.fail("config was accepted");
  t.regex(result.problems[0]?.message ?? "", /cannot be read: ENOENT/);
});

const badUrls: [string, RegExp][] = [
  ["mqtts://gw1:secret@broker.example.org:8883", /must not contain a user name or password/],
  ["mqtts://broker.example.org:8883/topic?x=1", /no path, query or fragment/],
  ["mqtts://broker.example.org:0", /port from 1 to 65535/],
];

for (const [url, message] of badUrls) {
  test(`rejects broker URL ${url.replace(/secret/, "***")}`, (t) => {
    const { result } = load(t, valid.replace("mqtts://broker.example.org:8883", url));
    if (result.ok) return t.fail("config was accepted");
    const problem = result.problems.find((p) => p.path === "broker.url");
    t.regex(problem?.message ?? "", message);
  });
}

test("same link for two devices is rejected", (t) => {
  const text = `${valid}  - id: bed13-spo2\n    profile: masimo-radical7-ascii1\n    link: { kind: serial, path: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0 }\n`;
  const { result } = load(t, text);
  if (result.ok) return t.fail("config was accepted");
  const problem = result.problems.find((p) => p.path === "devices[1].link");
  t.regex(problem?.message ?? "", /same serial link as devices\[0\]/);
});

test("number where text is expected asks for quotes", (t) => {
  const { result } = load(t, valid.replace("site: icu3", "site: 1234"));
  if (result.ok) return t.fail("config was accepted");
  const problem = result.problems.find((p) => p.path === "site");
  t.regex(problem?.message ?? "", /must be text; put the value in quotes \(got 1234\)/);
});

test("password in broker URL is masked", (t) => {
  const { result } = load(t, valid.replace("mqtts://", "mqtts://gw5:S3cretPW@"));
  t.false(result.ok);
  if (result.ok) return;
  const message = result.problems.map(formatProblem).join("\n");
  t.regex(message, /must not contain a user name or password/);
  t.regex(message, /got "mqtts:\/\/\*\*\*@broker\.example\.org:8883"/);
  t.notRegex(message, /S3cretPW|gw5/);
});

test("password in an invalid URL is masked", (t) => {
  const { result } = load(t, valid.replace("mqtts://broker", "mqtt://gw5:S3cretPW@broker"));
  t.false(result.ok);
  if (result.ok) return;
  const message = result.problems.map(formatProblem).join("\n");
  t.regex(message, /must start with mqtts:\/\//);
  t.notRegex(message, /S3cretPW/);
});
