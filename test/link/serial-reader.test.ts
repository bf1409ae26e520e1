import test, { type ExecutionContext } from "ava";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { closeSync, openSync } from "node:fs";
import type { SerialPort } from "serialport";
import { setTimeout as delay } from "node:timers/promises";
import { createSerialConnector } from "../../src/link/serial.js";
import { startSerialReader } from "../../src/link/serial-reader.js";
import { serialSettingsSchema } from "../../src/profiles/common.js";
import { createPtyPair } from "../../src/simulate/pty-pair.js";
import { closePort, openDeviceEnd } from "../e2e/scenario.js";
import { tempDir } from "../helpers/tmp.js";

const settings = serialSettingsSchema.parse({ baudRate: 9600 });

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await delay(10);
  return condition();
}

async function openPair(t: ExecutionContext) {
  const dir = tempDir(t);
  const pty = await createPtyPair(dir);
  t.teardown(() => pty.stop());
  const device = await openDeviceEnd(pty.devicePath);
  t.teardown(() => closePort(device));
  const connection = await createSerialConnector(pty.hostPath, settings).connect();
  t.teardown(() => connection.close());
  const received: Buffer[] = [];
  const closed: string[] = [];
  connection.onData((chunk) => received.push(chunk));
  connection.onClose((reason) => closed.push(reason));
  return { pty, device, connection, received, closed };
}

test("serial link reads every byte in order", async (t) => {
  const { device, received } = await openPair(t);
  const sent = randomBytes(100_000);
  for (let offset = 0; offset < sent.length; offset += 1000) {
    device.write(sent.subarray(offset, offset + 1000));
  }
  const total = () => received.reduce((sum, chunk) => sum + chunk.length, 0);
  t.true(await waitFor(() => total() >= sent.length, 10_000), `received ${total()} bytes`);
  t.true(Buffer.concat(received).equals(sent));
});

test("serial link writes more than the pty holds", async (t) => {
  const { device, connection, received, closed } = await openPair(t);
  // More than a pty buffers (about 30 KB here), less than the link's 64 KiB write bound.
  const toDevice = randomBytes(64_000);
  const atDevice: Buffer[] = [];
  const fromDevice: Buffer[] = [];
  const sending = setInterval(() => {
    const chunk = randomBytes(100);
    fromDevice.push(chunk);
    device.write(chunk);
  }, 10);
  t.teardown(() => clearInterval(sending));
  for (let offset = 0; offset < toDevice.length; offset += 8000) {
    connection.write(toDevice.subarray(offset, offset + 8000));
  }
  // The device end reads nothing yet, so the host's last writes wait for the port.
  await delay(300);
  device.on("data", (chunk: Buffer) => atDevice.push(chunk));
  const count = (chunks: Buffer[]) => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  t.true(await waitFor(() => count(atDevice) >= toDevice.length, 5_000), "device got all");
  clearInterval(sending);
  const sent = Buffer.concat(fromDevice);
  t.true(await waitFor(() => count(received) >= sent.length, 5_000), "host got all");
  t.deepEqual(closed, []);
  t.true(Buffer.concat(atDevice).equals(toDevice));
  t.true(Buffer.concat(received).equals(sent));
});

// socat stops relaying both ways while one way is full, so the pty tests cannot show that
// reading goes on while a write waits. The poll flags show it.
test("serial reader keeps polling readable during a write", (t) => {
  const flags: number[] = [];
  const poller = Object.assign(new EventEmitter(), {
    poll(events: number) {
      flags.push(events);
    },
  });
  const port = { port: { fd: openSync("/dev/null", "r"), poller } } as unknown as SerialPort;
  t.teardown(() => closeSync((port.port as unknown as { fd: number }).fd));
  const stop = startSerialReader(port, { onData: () => undefined, onError: () => undefined });
  t.not(stop, undefined);
  t.deepEqual(flags, [1], "reading asks for readable");

  // serialport's write waits for the port to take bytes: it requests writable alone.
  poller.once("writable", () => undefined);
  poller.poll(2);
  t.is(flags.at(-1), 3, "a write's poll keeps readable");
  poller.emit("readable", null);
  t.is(flags.at(-1), 3, "a read while the write waits keeps writable");

  stop?.();
  poller.poll(2);
  t.is(flags.at(-1), 2, "a stopped reader leaves the binding's poll as it was");
});

test("serial link closes when the port vanishes", async (t) => {
  const { pty, closed } = await openPair(t);
  await pty.stop();
  t.true(await waitFor(() => closed.length > 0, 5_000), "link closed");
  t.regex(closed[0] ?? "", /^serial port hung up or was removed \(/);
});
