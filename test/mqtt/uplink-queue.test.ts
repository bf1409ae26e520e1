import test from "ava";
import { silentLogger } from "../../src/log.js";
import { MqttUplink } from "../../src/mqtt/uplink.js";

function uplink(maxQueuedRecordsPerDevice: number): MqttUplink {
  return new MqttUplink({
    broker: {
      url: "mqtts://localhost:1",
      caFile: "",
      certFile: "",
      keyFile: "",
      keepAliveSeconds: 20,
      connectTimeoutMs: 1000,
      reconnectPeriodMs: 1000,
      mqttVersion: "5",
    },
    tls: {
      ca: Buffer.alloc(0),
      cert: Buffer.alloc(0),
      key: Buffer.alloc(0),
      clientCertNotAfter: "",
    },
    clientId: "test",
    will: { topic: "t/state", payload: "{}" },
    maxQueuedRecordsPerDevice,
    inFlightWindow: 4,
    log: silentLogger,
  });
}

test("flooding device drops only its own records", (t) => {
  // Never started, so every record stays queued as while the broker is away.
  const queue = uplink(10);
  for (let index = 0; index < 5; index++) queue.publishRecord("quiet", "t/quiet", { index });
  for (let index = 0; index < 25; index++) queue.publishRecord("noisy", "t/noisy", { index });
  t.is(queue.dropped, 15);
  t.is(queue.queuedRecords, 15);
});
