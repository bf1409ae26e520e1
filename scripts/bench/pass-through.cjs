/**
 * The benchmark's baseline: the least a serial-to-MQTT gateway must do. It opens each serial
 * port with serialport, cuts the bytes into CR LF terminated lines and publishes every line as
 * it is, with QoS 1, over mutually authenticated TLS with mqtt.js: no decoding, no validation,
 * no outbox. The harness runs it on the same ports as the agent and reports the agent's figures
 * as ratios to its own.
 *
 * Usage: node pass-through.cjs --url mqtts://localhost:PORT --ca FILE --cert FILE --key FILE
 *        [--frame-end HEX] --port ID=PATH [--port ID=PATH ...]
 * --frame-end gives the bytes that end a frame in hex: 0d0a (CR LF, the default) for lines,
 * c1 for IntelliVue frames.
 * With IOMT_GATEWAY_EVENT_LOOP_LOG_MS set it logs the event-loop delay as the agent does.
 */
"use strict";
const { readFileSync } = require("node:fs");
const { monitorEventLoopDelay } = require("node:perf_hooks");
const { parseArgs } = require("node:util");
const mqtt = require("mqtt");
const { SerialPort } = require("serialport");

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    ca: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    port: { type: "string", multiple: true },
    "frame-end": { type: "string" },
  },
});
const url = new URL(values.url ?? "");
const client = mqtt.connect({
  protocol: "mqtts",
  host: url.hostname,
  port: Number(url.port),
  protocolVersion: 5,
  clientId: `pass-through-${process.pid}`,
  ca: readFileSync(values.ca ?? ""),
  cert: readFileSync(values.cert ?? ""),
  key: readFileSync(values.key ?? ""),
  rejectUnauthorized: true,
  minVersion: "TLSv1.2",
});
client.on("error", (error) => process.stderr.write(`mqtt error: ${error.message}\n`));

// Tells the harness when every port is open and the broker connected, so a simulated monitor
// that streams at once loses nothing before then.
let waiting = (values.port ?? []).length + 1;
const opened = () => {
  if (--waiting === 0) process.stderr.write(JSON.stringify({ msg: "pass-through ready" }) + "\n");
};
client.once("connect", opened);

const frameEnd = Buffer.from(values["frame-end"] ?? "0d0a", "hex");
for (const spec of values.port ?? []) {
  const [id, path] = spec.split("=");
  const topic = `bench/pass-through/${id}`;
  const port = new SerialPort({ path, baudRate: 9600 }, opened);
  let rest = Buffer.alloc(0);
  port.on("data", (chunk) => {
    let bytes = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    for (let end = bytes.indexOf(frameEnd); end >= 0; end = bytes.indexOf(frameEnd)) {
      client.publish(topic, bytes.subarray(0, end + frameEnd.length), { qos: 1 });
      bytes = bytes.subarray(end + frameEnd.length);
    }
    rest = bytes;
  });
  port.on("error", (error) => process.stderr.write(`serial error on ${path}: ${error.message}\n`));
}

const reportMs = Number(process.env.IOMT_GATEWAY_EVENT_LOOP_LOG_MS ?? 0);
// As in src/health/event-loop.ts: the delay beyond the monitor's 10 ms timer period.
const resolutionMs = 10;
if (reportMs > 0) {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  setInterval(() => {
    const fields = {
      p50Ms: histogram.percentile(50) / 1e6 - resolutionMs,
      p99Ms: histogram.percentile(99) / 1e6 - resolutionMs,
      maxMs: histogram.max / 1e6 - resolutionMs,
    };
    process.stderr.write(JSON.stringify({ msg: "event loop delay", ...fields }) + "\n");
    histogram.reset();
  }, reportMs).unref();
}

process.once("SIGTERM", () => client.end(false, {}, () => process.exit(0)));
