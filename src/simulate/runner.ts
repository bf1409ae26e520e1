/**
 * Runs a device simulator on a real serial port (one end of a virtual pair, or a USB adapter
 * cabled to the gateway) or as a TCP server that acts as a serial device server.
 */
import { createServer, type Server, type Socket } from "node:net";
import { SerialPort } from "serialport";
import { GatewayError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Profile } from "../profiles/schema.js";
import type { DeviceSimulator, SimulatorOptions } from "../protocols/family.js";
import { codecFor } from "../protocols/registry.js";

export interface RunningSimulator {
  /** Counters of the current simulated device. */
  stats(): Readonly<Record<string, number>>;
  /**
   * Settles with the reason when the serial port goes away by itself, as when its pty pair
   * ends or the adapter is unplugged. It never settles for a TCP server or after stop().
   */
  lost: Promise<string>;
  stop(): Promise<void>;
}

interface ByteSink {
  write(bytes: Buffer): void;
}

/** Drives one simulator: start, received bytes and ticks in; replies out. */
function drive(simulator: DeviceSimulator, sink: ByteSink) {
  const send = (chunks: Buffer[]) => {
    for (const chunk of chunks) sink.write(chunk);
  };
  send(simulator.start(Date.now()));
  const timer = setInterval(() => send(simulator.tick(Date.now())), simulator.tickMs);
  return {
    receive: (chunk: Buffer) => send(simulator.receive(chunk, Date.now())),
    stop: () => clearInterval(timer),
  };
}

export async function runSerialSimulator(
  profile: Profile,
  path: string,
  options: SimulatorOptions,
  log: Logger,
): Promise<RunningSimulator> {
  const serial = profile.serial;
  const port = new SerialPort({
    path,
    baudRate: serial.baudRate,
    dataBits: serial.dataBits,
    parity: serial.parity,
    stopBits: serial.stopBits,
    // The device end of a cable uses the profile's hardware handshake too.
    rtscts: serial.flowControl === "rtscts",
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) =>
    port.open((error) =>
      error
        ? reject(new GatewayError("LINK_OPEN_FAILED", `cannot open ${path}: ${error.message}`))
        : resolve(),
    ),
  );
  const simulator = codecFor(profile).createSimulator(options);
  const driver = drive(simulator, { write: (bytes) => port.write(bytes) });
  port.on("data", (chunk: Buffer) => driver.receive(chunk));
  port.on("error", (error) =>
    log.warn("simulator port error", { port: path, error: error.message }),
  );
  let stopping = false;
  const lost = new Promise<string>((resolve) => {
    // serialport emits close more than once for a port that failed, so only the first counts.
    port.once("close", (error?: Error) => {
      driver.stop();
      if (!stopping) resolve(error === undefined ? "the port was closed" : error.message);
    });
  });
  log.info("simulating device", { profile: profile.id, port: path });
  return {
    stats: () => simulator.stats,
    lost,
    stop: () =>
      new Promise((resolve) => {
        stopping = true;
        driver.stop();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

/** Listens like a serial device server in TCP server mode: one simulated device per connection. */
export async function runTcpSimulator(
  profile: Profile,
  host: string,
  port: number,
  options: SimulatorOptions,
  log: Logger,
): Promise<RunningSimulator & { port: number }> {
  let current: DeviceSimulator | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const simulator = codecFor(profile).createSimulator(options);
    current = simulator;
    const driver = drive(simulator, { write: (bytes) => socket.write(bytes) });
    socket.on("data", (chunk) => driver.receive(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      driver.stop();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : port;
  log.info("simulating device server", { profile: profile.id, host, port: boundPort });
  return {
    port: boundPort,
    stats: () => current?.stats ?? {},
    // A listening server has no port to lose; each connection starts a new device.
    lost: new Promise<string>(() => undefined),
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Names the address and the fix when the TCP server cannot listen. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): GatewayError {
  const hints: Record<string, string> = {
    EADDRINUSE:
      "another program listens on it; stop that program, or give another --tcp-port " +
      "(0 picks a free port)",
    EACCES: "ports below 1024 need root or CAP_NET_BIND_SERVICE; give a --tcp-port of 1024 or more",
    EADDRNOTAVAIL: "the address is not one of this machine's; check --host",
  };
  const hint = hints[error.code ?? ""] ?? "check --host and --tcp-port";
  return new GatewayError(
    "LINK_OPEN_FAILED",
    `cannot listen on ${host}:${port} (${error.code ?? error.message}): ${hint}`,
    { cause: error },
  );
}
