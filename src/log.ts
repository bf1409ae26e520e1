/**
 * A small injected logger: namespaced, structured fields, no formatting work when the level is
 * off. Lines go to stderr as JSON (for journald and log shippers) or as text for a terminal.
 * Never pass keys, passphrases or patient identifiers as fields.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(namespace: string, fields?: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "text";
  sink?: LogSink;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions, namespace = "agent", base: LogFields = {}) {
  const sink = options.sink ?? { write: (line: string) => process.stderr.write(line) };
  const now = options.now ?? (() => new Date());
  const threshold = rank[options.level];

  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (rank[level] < threshold) return;
    const all = { ...base, ...fields };
    if (options.format === "json") {
      const record = { time: now().toISOString(), level, ns: namespace, msg: message, ...all };
      sink.write(JSON.stringify(record, jsonSafe) + "\n");
      return;
    }
    const extra = Object.entries(all)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${formatValue(value)}`)
      .join(" ");
    const time = now().toISOString().slice(11, 23);
    sink.write(`${time} ${level.toUpperCase().padEnd(5)} [${namespace}] ${message} ${extra}\n`);
  };

  const logger: Logger = {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    child: (child, fields) =>
      createLogger(options, `${namespace}:${child}`, { ...base, ...fields }),
    enabled: (level) => rank[level] >= threshold,
  };
  return logger;
}

/** A logger that drops everything, for tests and library callers that do not log. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
  enabled: () => false,
};

/** Formats bytes as hex with their length, the form used in every log line about a frame. */
export function hexPreview(bytes: Uint8Array, maxBytes = 32): string {
  const hex = Buffer.from(bytes.subarray(0, maxBytes)).toString("hex").replace(/(..)/g, "$1 ");
  const ellipsis = bytes.length > maxBytes ? "..." : "";
  return `${hex.trim()}${ellipsis} (${bytes.length} bytes)`;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error)
    return { message: value.message, code: (value as { code?: unknown }).code };
  if (typeof value === "bigint") return value.toString();
  return value;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/**
 * Logs at most one line per key and interval, and counts what it suppressed. Bad device input
 * can arrive many times a second; the counter in health carries the totals.
 */
export class RateLimitedWarning {
  private readonly lastAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, message: string, fields?: LogFields): void {
    const at = this.now();
    const last = this.lastAt.get(key);
    if (last !== undefined && at - last < this.intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return;
    }
    const suppressed = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    this.lastAt.set(key, at);
    this.logger.warn(message, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
