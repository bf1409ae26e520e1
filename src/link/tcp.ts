/** A raw TCP connector to a serial device server port (Moxa- or Lantronix-style "TCP server" mode). */
import type { Socket } from "node:net";
import type { EgressGuard } from "../egress/guard.js";
import { GatewayError } from "../errors.js";
import { maxPendingWriteBytes, type Connector, type LinkConnection } from "./types.js";

/** TCP keep-alive probes find a device server that lost power without closing the socket. */
const keepAliveDelayMs = 10_000;
const connectTimeoutMs = 10_000;

/** Connects through `guard`, so a device server outside the allowlist is never contacted. */
export function createTcpConnector(host: string, port: number, guard: EgressGuard): Connector {
  return {
    description: `tcp ${host}:${port}`,
    connect: () => openTcp(host, port, guard),
  };
}

function openTcp(host: string, port: number, guard: EgressGuard): Promise<LinkConnection> {
  return new Promise((resolve, reject) => {
    const socket = guard.connectTcp(
      { host, port, protocol: "tcp", purpose: "device-server" },
      { noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveDelayMs },
    );
    socket.setTimeout(connectTimeoutMs, () =>
      socket.destroy(new Error(`no connection after ${connectTimeoutMs} ms`)),
    );
    const onError = (error: Error) =>
      reject(
        new GatewayError(
          "LINK_OPEN_FAILED",
          `cannot connect to ${host}:${port}: ${error.message}`,
          { cause: error },
        ),
      );
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.setTimeout(0);
      socket.off("error", onError);
      resolve(wrapSocket(socket));
    });
  });
}

function wrapSocket(socket: Socket): LinkConnection {
  let closed = false;
  let closeReason: string | undefined;
  let lastError = "";
  const closeListeners: ((reason: string) => void)[] = [];
  socket.on("error", (error) => {
    lastError = error.message;
  });
  socket.on("close", () => {
    if (closed) return;
    closed = true;
    const reason =
      closeReason ??
      (lastError === ""
        ? "connection closed by the device server"
        : `connection failed: ${lastError}`);
    for (const listener of closeListeners) listener(reason);
  });
  return {
    write: (bytes) => {
      if (closed) return;
      if (socket.writableLength + bytes.length > maxPendingWriteBytes) {
        closeReason ??= `the device server takes no data (${socket.writableLength} bytes waiting)`;
        socket.destroy();
        return;
      }
      socket.write(bytes);
    },
    close: (reason = "closed by the agent") => {
      closeReason ??= reason;
      socket.destroy();
    },
    onData: (listener) => socket.on("data", listener),
    onClose: (listener) => closeListeners.push(listener),
  };
}
