/** Reads a YAML file into a plain value, with problems located by line for every syntax error. */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, type Document } from "yaml";
import { messageOf } from "../errors.js";
import type { Problem } from "./problems.js";

export interface YamlFile {
  file: string;
  text: string;
  document: Document;
  lines: LineCounter;
  value: unknown;
}

export function readYamlFile(
  file: string,
): { ok: true; yaml: YamlFile } | { ok: false; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return {
      ok: false,
      problems: [{ file, path: "", message: `cannot be read: ${messageOf(error)}` }],
    };
  }
  return parseYamlText(file, text);
}

export function parseYamlText(
  file: string,
  text: string,
): { ok: true; yaml: YamlFile } | { ok: false; problems: Problem[] } {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => {
      const { line, col } = lines.linePos(error.pos[0]);
      return {
        file,
        path: "",
        line,
        column: col,
        message: `invalid YAML: ${error.message.split("\n")[0]}`,
      };
    });
    return { ok: false, problems };
  }
  return { ok: true, yaml: { file, text, document, lines, value: document.toJS() as unknown } };
}
