/** A link is the byte stream to one device: a serial port or a TCP connection to a device server. */

/**
 * Maximum bytes written to a device but not yet taken by it. A device that stops reading
 * while it keeps sending commands would otherwise make the gateway buffer replies without end,
 * so past this the link is closed and reopened.
 */
export const maxPendingWriteBytes = 64 * 1024;

/** One open connection. close() may be called any number of times. */
export interface LinkConnection {
  write(bytes: Buffer): void;
  /** Ends the connection; `reason` is what onClose listeners receive. */
  close(reason?: string): void;
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once when the connection ends, for any reason. */
  onClose(listener: (reason: string) => void): void;
}

export interface Connector {
  /** For logs and device state, such as "serial /dev/ttyUSB0 9600 8N1". */
  readonly description: string;
  connect(): Promise<LinkConnection>;
  /**
   * Returns false when the endpoint has gone, such as a serial path that no longer exists.
   * Needed because serialport does not reliably report a vanished port until a write fails.
   */
  isPresent?(): boolean;
}
