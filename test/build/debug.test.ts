import test from "ava";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { repoRoot } from "../helpers/agent-process.js";

interface DebugLogger {
  (formatter: unknown, ...args: unknown[]): void;
  enabled: boolean;
  namespace: string;
  extend(suffix: string): DebugLogger;
}
interface DebugModule {
  (namespace: string): DebugLogger;
  isEnabled(namespace: string, patterns: string): boolean;
}

const standIn = join(repoRoot, "build", "debug.cjs");
const createDebug = createRequire(standIn)(standIn) as DebugModule;

test("debug stand-in selects namespaces as debug 4 does", (t) => {
  const cases: [string, string, boolean][] = [
    ["mqttjs:client", "", false],
    ["mqttjs:client", "mqttjs:client", true],
    ["mqttjs:client", "mqttjs*", true],
    ["mqttjs:client", "*", true],
    ["mqttjs:client", "mqtt-packet:*", false],
    ["mqttjs:client", "serialport*, mqttjs:*", true],
    ["mqttjs:tls", "mqttjs*,-mqttjs:tls", false],
    ["mqttjs:tls", "-mqttjs:tls,mqttjs*", false],
    ["mqttjs.client", "mqttjs?client", false],
    ["mqttjs:client", "mqtt(js*", false],
    ["mqtt(js:client", "mqtt(js*", true],
    ["mqttjs:client", "m*t*:*t", true],
    ["mqttjs:client", "m*t*:*x", false],
    ["mqttjs:client", "mqttjs:client*", true],
    ["mqttjs:client", "*client*", true],
  ];
  for (const [namespace, patterns, expected] of cases) {
    t.is(createDebug.isEnabled(namespace, patterns), expected, `${namespace} with "${patterns}"`);
  }
});

test("debug stand-in matches many stars quickly", (t) => {
  // As a regular expression, 8 wildcards took 21 s against this near miss on Node 24.
  const namespace = "a".repeat(60);
  const patterns = "*a".repeat(40) + "b";
  t.false(createDebug.isEnabled(namespace, patterns));
});

test("debug stand-in logger off by default", (t) => {
  const logger = createDebug("mqttjs:client");
  t.false(logger.enabled);
  t.is(logger.namespace, "mqttjs:client");
  t.is(logger.extend("tls").namespace, "mqttjs:client:tls");
  t.is(logger("publish %s", "topic"), undefined);
});

test("debug stand-in writes %o on one line", (t) => {
  const packet = { cmd: "connack", properties: { maximumPacketSize: 1024, topics: ["a", "b"] } };
  const script = `require(${JSON.stringify(standIn)})("mqttjs:client")("got %o", ${JSON.stringify(packet)});`;
  const result = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, DEBUG: "mqttjs*" },
  });
  t.is(result.status, 0, result.stderr);
  t.is(result.stderr.split("\n").length, 2, result.stderr);
  t.regex(
    result.stderr,
    / mqttjs:client got \{ cmd: 'connack', properties: \{ .*topics: \[ 'a', 'b' \] \} \}\n$/,
  );
});

test("debug stand-in writes selected namespaces to stderr", (t) => {
  const script = `const d = require(${JSON.stringify(standIn)});
    d("mqttjs:client")("publish to %s", "a/b"); d("mqtt-packet:parser")("parse");`;
  const result = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, DEBUG: "mqttjs*" },
  });
  t.is(result.status, 0, result.stderr);
  t.regex(result.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z mqttjs:client publish to a\/b\n$/);
});
