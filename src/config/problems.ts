/** A problem found in a file the agent reads, located by its path and line in that file. */
import type { z } from "zod";
import { redactUrl } from "./redact-url.js";
import { isMap, isSeq, type Document, type LineCounter } from "yaml";

export interface Problem {
  file: string;
  /** The setting's path, such as devices[0].link.path; empty for the whole file. */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

/** Finds the line and column of a setting, given as keys such as ["broker", "keyFile"]. */
export type Locate = (path: readonly (string | number)[]) => { line?: number; column?: number };

export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text === "" ? String(part) : `.${String(part)}`;
  }
  return text;
}

/** Parses a path made by formatPath, such as devices[0].link.path, back into its keys. */
export function parsePath(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    keys.push(match[2] === undefined ? (match[1] ?? "") : Number(match[2]));
  }
  return keys;
}

export function formatProblem(problem: Problem): string {
  const where =
    problem.line === undefined
      ? problem.file
      : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  const what = problem.path === "" ? "" : `${problem.path}: `;
  return `${where}: ${what}${problem.message}`;
}

/**
 * Describes a received value for a message, bounded so a huge value cannot flood a log, and
 * with any credentials in a URL masked.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = redactUrl(JSON.stringify(value) ?? typeof value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Turns zod issues into problems with the line of the offending node in the YAML document. */
export function problemsFromIssues(
  file: string,
  issues: readonly z.core.$ZodIssue[],
  document: Document,
  lines: LineCounter,
  raw: unknown,
): Problem[] {
  return issues
    .flatMap((issue) => expandIssue(issue))
    .map((issue) => {
      const path = issue.path;
      const position = positionOf(document, lines, path);
      const received = valueAt(raw, path);
      const shown = issue.code !== "unrecognized_keys" && received !== undefined;
      const got = shown ? ` (got ${describeValue(received)})` : "";
      return { file, path: formatPath(path), ...position, message: `${issue.message}${got}` };
    });
}

/** Splits "unrecognized keys" into one problem per key, each with its own line. */
function expandIssue(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "unrecognized_keys") return [issue];
  return issue.keys.map((key) => ({
    ...issue,
    path: [...issue.path, key],
    message: `is not a known setting; check its spelling or remove it`,
  }));
}

/**
 * Finds the line and column of the node at `path`, or of its nearest ancestor in the file when
 * the setting is absent. Returns {} when no ancestor has a position.
 */
export function positionOf(
  document: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
): { line?: number; column?: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth) as (string | number)[], true) as
      { range?: [number, number, number] } | undefined;
    const nodeOrCollection = node ?? (depth === 0 ? document.contents : undefined);
    const range = (nodeOrCollection as { range?: [number, number, number] } | undefined)?.range;
    if (
      range !== undefined &&
      (node !== undefined || isMap(nodeOrCollection) || isSeq(nodeOrCollection))
    ) {
      const { line, col } = lines.linePos(range[0]);
      return { line, column: col };
    }
  }
  return {};
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/**
 * Rewords zod's generic type messages for people editing YAML; every other message is kept.
 * Pass as the `error` option of safeParse.
 */
export function yamlErrorMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === "invalid_value" && typeof issue.input === "number") {
    const allowed = issue.values.map((value) => JSON.stringify(value)).join(", ");
    if (issue.values.every((value) => typeof value === "string")) {
      return `must be one of ${allowed}; put the value in quotes`;
    }
  }
  if (issue.code !== "invalid_type") return undefined;
  if (issue.input === undefined) return `is missing; add this setting (${issue.expected} expected)`;
  if (issue.expected === "string" && typeof issue.input === "number") {
    return "must be text; put the value in quotes";
  }
  if (issue.expected === "object" && issue.input === null) {
    return "is empty; it must contain settings";
  }
  return `must be ${issue.expected === "array" ? "a list" : `of type ${issue.expected}`}`;
}
