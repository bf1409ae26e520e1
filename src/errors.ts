/**
 * The one error type of the agent. Code is stable and printed at the start of the message,
 * so a line pasted from a log can be searched for. Branch on `code`, never on a class name:
 * the bundler may rename classes.
 */
export type ErrorCode =
  // Configuration, certificates and firmware profiles: the agent refuses to start.
  | "CONFIG_INVALID"
  | "PROFILE_INVALID"
  | "PROFILE_NOT_FOUND"
  | "PROFILE_VECTOR_FAILED"
  // Bytes from a device: counted, never fatal.
  | "FRAME_CHECKSUM"
  | "DECODE_INVALID"
  // Links.
  | "LINK_OPEN_FAILED"
  // Command line.
  | "CLI_USAGE"
  // Egress: a destination outside the allowlist, and the host firewall.
  | "EGRESS_DENIED"
  | "EGRESS_FIREWALL_FAILED"
  | "EGRESS_FIREWALL_UNSAFE"
  // Capture files of the capture and replay commands.
  | "CAPTURE_INVALID"
  | "CAPTURE_TOO_LARGE"
  // Files in the data folder.
  | "STATE_DAMAGED"
  | "STATE_LOCKED";

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
