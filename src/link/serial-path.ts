/**
 * Checks that a configured serial path can be a serial port, without opening it: opening a
 * port sets DTR and RTS, which resets some devices, so `check` must not open it.
 */
import { readlinkSync, statSync, type Stats } from "node:fs";

export type SerialPathCheck =
  | { ok: true }
  /** The path does not exist; a USB adapter may simply be unplugged. */
  | { ok: false; missing: true; message: string }
  | { ok: false; missing: false; message: string };

const fix = "set link.path to the serial adapter, such as /dev/ttyUSB0 or a /dev/serial/by-id link";

/** Returns whether `path` can be a serial port, with the reason and the fix when it cannot. */
export function checkSerialPath(path: string): SerialPathCheck {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return { ok: true };
    const message = `serial port ${path} does not exist; plug in the adapter or ${fix}`;
    return { ok: false, missing: true, message };
  }
  const kind = notCharacterDevice(stats);
  if (kind !== undefined) {
    return { ok: false, missing: false, message: `${path} is ${kind}, not a serial port; ${fix}` };
  }
  const deviceClass = linuxDeviceClass(stats);
  if (deviceClass !== undefined && deviceClass !== "tty") {
    const message = `${path} is a character device of class ${deviceClass}, not a serial port; ${fix}`;
    return { ok: false, missing: false, message };
  }
  return { ok: true };
}

/** Builds the message for a port that failed to open because it is not a terminal (ENOTTY). */
export function notSerialDeviceMessage(path: string, detail: string): string {
  return `${path} is not a serial device (ENOTTY: ${detail}); ${fix}`;
}

function notCharacterDevice(stats: Stats): string | undefined {
  if (stats.isCharacterDevice()) return undefined;
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a named pipe";
  if (stats.isSocket()) return "a socket";
  return "not a device";
}

/**
 * Reads the Linux device class of a character device from sysfs: "tty" for serial ports,
 * "mem" for /dev/null. Returns undefined where sysfs has no entry, as for /dev/pts ptys and
 * on other systems, so such devices are not rejected.
 */
function linuxDeviceClass(stats: Stats): string | undefined {
  const major = Math.floor(stats.rdev / 256) & 0xfff;
  const minor = (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00);
  try {
    const link = readlinkSync(`/sys/dev/char/${major}:${minor}/subsystem`);
    return link.split("/").at(-1);
  } catch {
    return undefined;
  }
}
