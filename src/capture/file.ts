/**
 * The capture file: a link's raw bytes with their timing, one JSON object per line, so a
 * technician can read it with any text tool and a test can replay it. Version 1 lines:
 *
 *   {"type":"header","format":"iomt-gateway-capture","version":1,"profile":"nonin-oem3-df2",
 *    "profileVersion":"1.0.0","link":"serial /dev/ttyUSB0 9600 8N1","writes":"none",
 *    "startedAt":"2026-12-04T18:00:00.000Z"}
 *   {"type":"data","ms":12,"dir":"in","hex":"018140..."}
 *   {"type":"data","ms":15,"dir":"out","hex":"1b51...","label":"ICC"}
 *   {"type":"end","ms":60000,"reason":"duration","bytesIn":22500,"bytesOut":0}
 *
 * `ms` is the time since the link opened; `dir` is "in" for bytes from the device and "out"
 * for bytes the gateway wrote. The end line is missing when the capture was killed.
 */
import { z } from "zod";
import { GatewayError } from "../errors.js";

export const captureFormat = "iomt-gateway-capture";
export const captureVersion = 1;

const nonEmpty = "must be a non-empty string";

/** Times in ms since the link opened, as the recorder rounds them. */
const msSchema = z
  .number("must be a number")
  .int("must be a whole number of ms")
  .min(0, "must be 0 or more")
  .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`);

const headerSchema = z
  .object({
    type: z.literal("header", 'must be "header" on the first line'),
    format: z.literal(captureFormat, `must be "${captureFormat}"`),
    version: z.literal(captureVersion, `must be ${captureVersion}`),
    profile: z.string(nonEmpty).min(1, nonEmpty),
    profileVersion: z.string(nonEmpty).min(1, nonEmpty),
    link: z.string(nonEmpty).min(1, nonEmpty),
    /** "session" when the profile's session could write to the device, "none" when it could not. */
    writes: z.enum(["session", "none"], 'must be "session" or "none"'),
    startedAt: z.string(nonEmpty).min(1, nonEmpty),
  })
  .strict();

const dataSchema = z
  .object({
    type: z.literal("data", 'must be "data" or "end"'),
    ms: msSchema,
    dir: z.enum(["in", "out"], 'must be "in" or "out"'),
    hex: z
      .string("must be a string of hex digits")
      .regex(/^([0-9a-f]{2})+$/, "must be pairs of lower-case hex digits"),
    label: z.string("must be a string").optional(),
  })
  .strict();

export const captureEndReasons = ["duration", "size", "link closed", "stopped"] as const;

const byteCount = z
  .number("must be a number")
  .int("must be a whole number")
  .min(0, "must be 0 or more")
  .max(Number.MAX_SAFE_INTEGER, `must be at most ${Number.MAX_SAFE_INTEGER}`);

const endSchema = z
  .object({
    type: z.literal("end"),
    ms: msSchema,
    reason: z.enum(
      captureEndReasons,
      `must be one of ${captureEndReasons.map((r) => `"${r}"`).join(", ")}`,
    ),
    bytesIn: byteCount,
    bytesOut: byteCount,
  })
  .strict();

export type CaptureHeader = z.infer<typeof headerSchema>;
export type CaptureData = z.infer<typeof dataSchema>;
export type CaptureEnd = z.infer<typeof endSchema>;

export interface Capture {
  header: CaptureHeader;
  data: CaptureData[];
  end?: CaptureEnd;
}

export function headerLine(header: Omit<CaptureHeader, "type" | "format" | "version">): string {
  const line: CaptureHeader = {
    type: "header",
    format: captureFormat,
    version: captureVersion,
    ...header,
  };
  return `${JSON.stringify(line)}\n`;
}

export function dataLine(ms: number, dir: "in" | "out", bytes: Uint8Array, label?: string): string {
  const line: CaptureData = {
    type: "data",
    ms: Math.round(ms),
    dir,
    hex: Buffer.from(bytes).toString("hex"),
  };
  if (label !== undefined) line.label = label;
  return `${JSON.stringify(line)}\n`;
}

export function endLine(end: Omit<CaptureEnd, "type">): string {
  return `${JSON.stringify({ type: "end", ...end, ms: Math.round(end.ms) })}\n`;
}

/** A validated line of a capture file. */
export type CaptureLine = CaptureHeader | CaptureData | CaptureEnd;

/** Problems named in one CAPTURE_INVALID error; the count of the rest follows them. */
const maxShownProblems = 5;

/** Characters of a bad value quoted in a message. */
const maxQuotedValue = 40;

/**
 * Checks a capture file one line at a time, so a large file never has to be held whole.
 * Lines after the first problem are still checked (the error names up to five problems) but
 * are no longer returned. A last line that is not JSON is the line a killed capture was
 * writing (power loss, full disk): `finish` skips it with a warning instead of raising.
 */
export class CaptureParser {
  private lineNumber = 0;
  private headerChecked = false;
  private end: CaptureEnd | undefined;
  private lastMs = 0;
  private readonly problems: string[] = [];
  /** A line that was not JSON, an error only if another line follows it. */
  private unparsedLine: number | undefined;

  constructor(private readonly file: string) {}

  /** Checks the next line; returns it when it is valid and no problem came before it. */
  push(text: string): CaptureLine | undefined {
    this.lineNumber++;
    if (text.trim() === "") return undefined;
    if (this.unparsedLine !== undefined) {
      this.problems.push(`line ${this.unparsedLine} is not JSON`);
      this.unparsedLine = undefined;
      // The first line was the header even though it was not JSON, so this line is a data line.
      this.headerChecked = true;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.unparsedLine = this.lineNumber;
      return undefined;
    }
    const line = this.check(value);
    return line !== undefined && this.problems.length === 0 ? line : undefined;
  }

  /**
   * Raises CAPTURE_INVALID naming the problems found; otherwise returns the warnings, which
   * name a cut last line when there is one.
   */
  finish(): string[] {
    if (!this.headerChecked) {
      const cut = this.unparsedLine;
      this.problems.push(cut === undefined ? "the file is empty" : `line ${cut} is not JSON`);
      this.unparsedLine = undefined;
    }
    if (this.problems.length > 0) {
      const shown = this.problems.slice(0, maxShownProblems).join("; ");
      const rest = this.problems.length - maxShownProblems;
      throw new GatewayError(
        "CAPTURE_INVALID",
        `${this.file} is not a valid capture file: ${shown}${rest > 0 ? ` and ${rest} more` : ""}; ` +
          `record one with "iomt-gateway capture"`,
      );
    }
    if (this.unparsedLine === undefined) return [];
    return [
      `${this.file}: skipped line ${this.unparsedLine}, which is not JSON: ` +
        `the capture was cut off while writing its last line`,
    ];
  }

  private check(value: unknown): CaptureLine | undefined {
    const number = this.lineNumber;
    if (!this.headerChecked) {
      this.headerChecked = true;
      return this.validate(headerSchema, value);
    }
    if (this.end !== undefined) {
      this.problems.push(`line ${number} follows the end line`);
      return undefined;
    }
    const isEnd =
      typeof value === "object" && value !== null && "type" in value && value.type === "end";
    const line = isEnd ? this.validate(endSchema, value) : this.validate(dataSchema, value);
    if (line === undefined) return undefined;
    if (line.ms < this.lastMs) {
      this.problems.push(
        `line ${number}: field "ms" must not be less than the line before it (${this.lastMs}), got ${line.ms}`,
      );
      return undefined;
    }
    this.lastMs = line.ms;
    if (line.type === "end") this.end = line;
    return line;
  }

  private validate<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    this.problems.push(
      `line ${this.lineNumber}: ${issue === undefined ? "invalid" : describeIssue(issue, value)}`,
    );
    return undefined;
  }
}

/** Words an issue as the field, the rule and the value found. */
function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field ${issue.keys.map((key) => `"${key}"`).join(", ")}`;
  }
  const field = issue.path.join(".");
  const found = valueAt(value, issue.path);
  if (field === "") return `${issue.message}, got ${quote(found)}`;
  if (found === undefined) return `field "${field}" is missing`;
  return `field "${field}" ${issue.message}, got ${quote(found)}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > maxQuotedValue ? `${text.slice(0, maxQuotedValue)}...` : text;
}

/**
 * Parses a capture file's whole text; every bad line is named in one CAPTURE_INVALID error.
 * Returns the warnings of `CaptureParser.finish` with the capture.
 */
export function parseCapture(text: string, file: string): Capture & { warnings: string[] } {
  const parser = new CaptureParser(file);
  let header: CaptureHeader | undefined;
  let end: CaptureEnd | undefined;
  const data: CaptureData[] = [];
  for (const line of text.split("\n")) {
    const item = parser.push(line);
    if (item?.type === "header") header = item;
    else if (item?.type === "end") end = item;
    else if (item !== undefined) data.push(item);
  }
  const warnings = parser.finish();
  if (header === undefined) throw new Error("a capture without its header passed the checks");
  return { header, data, ...(end === undefined ? {} : { end }), warnings };
}
