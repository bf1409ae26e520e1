/** A serial port connector on serialport, with the settings from the firmware profile. */
import { statSync } from "node:fs";
import { SerialPort } from "serialport";
import { GatewayError, messageOf } from "../errors.js";
import type { SerialSettings } from "../profiles/common.js";
import { checkSerialPath, notSerialDeviceMessage } from "./serial-path.js";
import { startSerialReader } from "./serial-reader.js";
import { maxPendingWriteBytes, type Connector, type LinkConnection } from "./types.js";

const parityLetter = { none: "N", even: "E", odd: "O" } as const;

/** Returns the settings in the usual short form, such as "9600 8N1". */
export function describeSerialSettings(settings: SerialSettings): string {
  return `${settings.baudRate} ${settings.dataBits}${parityLetter[settings.parity]}${settings.stopBits}`;
}

export function createSerialConnector(path: string, settings: SerialSettings): Connector {
  const shape = describeSerialSettings(settings);
  // The device node the path led to when the port opened. A /dev/serial/by-id link that now
  // leads elsewhere (another adapter got the name) means this port is gone.
  let openedNode: string | undefined;
  return {
    description: `serial ${path} ${shape}`,
    isPresent: () => openedNode !== undefined && deviceNode(path) === openedNode,
    connect: async () => {
      openedNode = deviceNode(path);
      return openSerial(path, settings);
    },
  };
}

/**
 * Returns the identity (device number and inode) of the node a path leads to, following
 * symlinks; undefined if it is gone. One stat call, where realpath costs one per path part,
 * since this runs every linkWatchMs for every serial device.
 */
function deviceNode(path: string): string | undefined {
  try {
    const stats = statSync(path, { throwIfNoEntry: false, bigint: true });
    return stats === undefined ? undefined : `${stats.dev}:${stats.ino}:${stats.rdev}`;
  } catch {
    // A path that cannot be read (EACCES, ELOOP) cannot be opened again either.
    return undefined;
  }
}

function openSerial(path: string, settings: SerialSettings): Promise<LinkConnection> {
  const checked = checkSerialPath(path);
  if (!checked.ok) return Promise.reject(new GatewayError("LINK_OPEN_FAILED", checked.message));
  const port = new SerialPort({
    path,
    baudRate: settings.baudRate,
    dataBits: settings.dataBits,
    parity: settings.parity,
    stopBits: settings.stopBits,
    rtscts: settings.flowControl === "rtscts",
    xon: settings.flowControl === "xonxoff",
    xoff: settings.flowControl === "xonxoff",
    autoOpen: false,
  });
  return new Promise((resolve, reject) => {
    port.open((error) => {
      if (error) {
        // A character device that is no terminal fails its first termios call with ENOTTY.
        const message = /ENOTTY|Inappropriate ioctl/.test(error.message)
          ? notSerialDeviceMessage(path, error.message)
          : `cannot open ${path}: ${error.message}`;
        reject(new GatewayError("LINK_OPEN_FAILED", message, { cause: error }));
        return;
      }
      // Flow control owns RTS when rtscts is on; otherwise set the levels the profile names.
      const levels =
        settings.flowControl === "rtscts"
          ? { dtr: settings.dtr }
          : { rts: settings.rts, dtr: settings.dtr };
      port.set(levels, () => resolve(wrapPort(port)));
    });
  });
}

function wrapPort(port: SerialPort): LinkConnection {
  let closed = false;
  const closeListeners: ((reason: string) => void)[] = [];
  const dataListeners: ((chunk: Buffer) => void)[] = [];
  const deliver = (chunk: Buffer) => {
    for (const listener of dataListeners) listener(chunk);
  };
  let stopReading: (() => void) | undefined;
  // Reading starts with the first listener, so no chunk arrives before anyone takes it.
  const startReading = () => {
    if (stopReading !== undefined || closed) return;
    stopReading = startSerialReader(port, { onData: deliver, onError: finish });
    if (stopReading !== undefined) return;
    port.on("data", deliver);
    stopReading = () => port.off("data", deliver);
  };
  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    stopReading?.();
    for (const listener of closeListeners) listener(reason);
    if (port.isOpen) port.close(() => undefined);
  };
  port.on("error", (error) => finish(`serial error: ${messageOf(error)}`));
  port.on("close", (error?: Error) =>
    finish(error ? `port closed: ${error.message}` : "port closed"),
  );
  return {
    write: (bytes) => {
      if (closed) return;
      if (port.writableLength + bytes.length > maxPendingWriteBytes) {
        finish(`the device takes no data (${port.writableLength} bytes waiting)`);
        return;
      }
      port.write(bytes, (error) => {
        if (error) finish(`write failed: ${error.message}`);
      });
    },
    close: (reason = "closed by the agent") => finish(reason),
    onData: (listener) => {
      dataListeners.push(listener);
      startReading();
    },
    onClose: (listener) => closeListeners.push(listener),
  };
}
