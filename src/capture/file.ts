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

const headerSchema = z
  .object({
    type: z.literal("header"),
    format: z.literal(captureFormat),
    version: z.literal(captureVersion),
    profile: z.string().min(1),
    profileVersion: z.string().min(1),
    link: z.string().min(1),
    /** "session" when the profile's session could write to the device, "none" when it could not. */
    writes: z.enum(["session", "none"]),
    startedAt: z.string().min(1),
  })
  .strict();

const dataSchema = z
  .object({
    type: z.literal("data"),
    ms: z.number().min(0),
    dir: z.enum(["in", "out"]),
    hex: z.string().regex(/^([0-9a-f]{2})+$/, "must be pairs of lower-case hex digits"),
    label: z.string().optional(),
  })
  .strict();

export const captureEndReasons = ["duration", "size", "link closed", "stopped"] as const;

const endSchema = z
  .object({
    type: z.literal("end"),
    ms: z.number().min(0),
    reason: z.enum(captureEndReasons),
    bytesIn: z.number().int().min(0),
    bytesOut: z.number().int().min(0),
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

/** Parses a capture file's text; every bad line is named in one CAPTURE_INVALID error. */
export function parseCapture(text: string, file: string): Capture {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const problems: string[] = [];
  const parse = <T>(schema: z.ZodType<T>, line: string, number: number): T | undefined => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${number} is not JSON`);
      return undefined;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    problems.push(`line ${number}: ${issue?.path.join(".") || "line"} ${issue?.message ?? ""}`);
    return undefined;
  };
  const header = lines.length > 0 ? parse(headerSchema, lines[0] ?? "", 1) : undefined;
  if (lines.length === 0) problems.push("the file is empty");
  const data: CaptureData[] = [];
  let end: CaptureEnd | undefined;
  lines.slice(1).forEach((line, index) => {
    const number = index + 2;
    if (end !== undefined) problems.push(`line ${number} follows the end line`);
    else if (line.includes('"type":"end"')) end = parse(endSchema, line, number);
    else {
      const item = parse(dataSchema, line, number);
      if (item !== undefined) data.push(item);
    }
  });
  if (header === undefined || problems.length > 0) {
    const shown = problems.slice(0, 5).join("; ");
    const more = problems.length > 5 ? ` and ${problems.length - 5} more` : "";
    throw new GatewayError(
      "CAPTURE_INVALID",
      `${file} is not a valid capture file: ${shown}${more}; ` +
        `record one with "iomt-gateway capture"`,
    );
  }
  return end === undefined ? { header, data } : { header, data, end };
}
