/**
 * Reads an open serial port on the event loop: when the port's poller reports it readable, one
 * read(2) on its non-blocking descriptor takes whatever bytes are there.
 *
 * serialport's own stream reads through the libuv thread pool and meets EAGAIN, as an Error
 * with a stack trace, before it waits for the next bytes. So each chunk costs two thread pool
 * reads, an exception and several promises. In a CPU profile of 16 simulated monitors that
 * took more time than decoding their frames. This reader costs one wake-up and one system call
 * per chunk, and a vanished adapter shows at once, as a failed read (EIO, ENXIO, ENODEV) or as
 * the empty reads of a hung-up tty.
 */
import { readSync } from "node:fs";
import type { SerialPort } from "serialport";

/** The parts of @serialport/bindings-cpp's Linux and macOS port binding this reader uses. */
interface PolledBinding {
  fd: number | null;
  poller: {
    on(event: "readable", listener: (error: Error | null) => void): unknown;
    removeListener(event: "readable", listener: (error: Error | null) => void): unknown;
    listenerCount(event: "writable"): number;
    poll(events: number): void;
  };
}

/** libuv's UV_READABLE and UV_WRITABLE, as @serialport/bindings-cpp's EVENTS. */
const readableEvent = 1;
const writableEvent = 2;

/**
 * The largest read. A UART at 115200 baud delivers about 11.5 kB a second, so a read seldom
 * fills it, and bytes left after one are reported readable again at once.
 */
const readBytes = 64 * 1024;

/**
 * Zero-byte reads in a row after which the port counts as hung up. A tty in raw mode with VMIN 1
 * returns at least one byte when poll reports it readable, so a run of empty reads means the
 * line is gone.
 */
const maxEmptyReads = 100;

/**
 * One read buffer for every port: a read and the copy out of it happen in one synchronous
 * step, so no two ports use it at once, and 16 ports keep 64 KiB instead of 1 MiB.
 */
const buffer = Buffer.allocUnsafe(readBytes);

/** Read errors of a port whose adapter was unplugged or whose far end closed. */
const goneCodes = new Set(["EIO", "ENXIO", "ENODEV", "EBADF"]);
const goneMessage = "serial port hung up or was removed";

export interface SerialReaderEvents {
  onData(chunk: Buffer): void;
  /** Called once when a read fails; the reader has stopped. */
  onError(message: string): void;
}

/**
 * Starts reading `port` and returns a function that stops it. Returns undefined when the
 * port's binding has no poller (Windows, or a mock binding): read its "data" events instead.
 */
export function startSerialReader(
  port: SerialPort,
  events: SerialReaderEvents,
): (() => void) | undefined {
  const binding = port.port as unknown;
  if (!isPolledBinding(binding) || binding.fd === null) return undefined;
  const { poller } = binding;
  const fd = binding.fd;
  let stopped = false;
  let emptyReads = 0;
  // The binding's poll(events) replaces the events libuv waits for. serialport's write calls
  // it with "writable" alone when the port takes no more bytes, which would stop reading until
  // the device reads again. So while this reader runs, every poll also requests "readable".
  const bindingPoll = poller.poll.bind(poller);
  poller.poll = (flags: number) => bindingPoll(flags | readableEvent);
  const stop = () => {
    stopped = true;
    poller.poll = bindingPoll;
    poller.removeListener("readable", onReadable);
  };
  // A write that waits for the port to take bytes (a "writable" listener) is requested again.
  const poll = () =>
    poller.poll(readableEvent | (poller.listenerCount("writable") > 0 ? writableEvent : 0));
  const fail = (message: string) => {
    stop();
    events.onError(message);
  };
  function onReadable(error: Error | null): void {
    if (stopped) return;
    if (error !== null) {
      // libuv reports a hung-up descriptor (POLLERR) as EBADF, "bad file descriptor".
      fail(`${goneMessage} (poll error: ${error.message})`);
      return;
    }
    let count: number;
    try {
      count = readSync(fd, buffer, 0, readBytes, null);
    } catch (readError) {
      const code = (readError as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "EINTR") {
        poll();
        return;
      }
      const message = (readError as Error).message;
      fail(
        goneCodes.has(code ?? "")
          ? `${goneMessage} (${message})`
          : `serial read failed: ${message}`,
      );
      return;
    }
    if (count === 0) {
      if (++emptyReads >= maxEmptyReads) {
        fail(`${goneMessage} (${maxEmptyReads} empty reads in a row)`);
        return;
      }
    } else {
      emptyReads = 0;
      // A copy: the framer may keep part of a chunk, and the read buffer is used again.
      events.onData(Buffer.from(buffer.subarray(0, count)));
    }
    if (!stopped) poll();
  }
  poller.on("readable", onReadable);
  poll();
  return stop;
}

function isPolledBinding(binding: unknown): binding is PolledBinding {
  if (typeof binding !== "object" || binding === null) return false;
  const candidate = binding as Partial<PolledBinding>;
  const poller = candidate.poller as Partial<PolledBinding["poller"]> | undefined;
  return (
    (typeof candidate.fd === "number" || candidate.fd === null) &&
    typeof poller?.on === "function" &&
    typeof poller.poll === "function" &&
    typeof poller.listenerCount === "function" &&
    typeof poller.removeListener === "function"
  );
}
