/**
 * The one error type of the agent. Code is stable and printed at the start of the message,
 * so a line pasted from a log can be searched for. Branch on `code`, never on a class name:
 * the bundler may rename classes.
 */
export type ErrorCode =
  // Configuration and firmware profiles: the agent refuses to start.
  | "CONFIG_INVALID"
  | "CONFIG_UNREADABLE"
  | "PROFILE_INVALID"
  | "PROFILE_NOT_FOUND"
  | "PROFILE_VECTOR_FAILED"
  // Certificates and keys.
  | "CERT_UNREADABLE"
  | "CERT_INVALID"
  | "KEY_PERMISSIONS"
  // Bytes from a device: counted, never fatal.
  | "FRAME_CHECKSUM"
  | "FRAME_OVERSIZE"
  | "FRAME_TRUNCATED"
  | "DECODE_INVALID"
  // Links and uplinks.
  | "LINK_OPEN_FAILED"
  | "LINK_LOST"
  | "MQTT_URL_REJECTED"
  | "MQTT_PUBLISH_FAILED"
  // Command line.
  | "CLI_USAGE"
  // Files in the data folder.
  | "STATE_DAMAGED"
  | "STATE_LOCKED"
  | "STATE_WRITE_FAILED";

export class GatewayError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = "GatewayError";
  }
}

/** Returns true when `error` is a GatewayError with `code`, without relying on class identity. */
export function hasCode(error: unknown, code: ErrorCode): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

/** Returns the message of any thrown value, for log fields. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
