/** Turns the bytes of a capture into a test vector for a profile's `testVectors` list. */
import { stringify } from "yaml";
import type { ObservedResult } from "../profiles/vectors.js";

/** Bytes per line of a vector's hex block. */
const hexBytesPerLine = 25;

/**
 * Returns one YAML list item with the bytes as hex and the whole observed result as `expect`,
 * so the vector passes until the profile or the code changes what those bytes decode to.
 */
export function vectorYaml(name: string, bytes: Uint8Array, observed: ObservedResult): string {
  const pairs = [...bytes].map((byte) => byte.toString(16).toUpperCase().padStart(2, "0"));
  const lines: string[] = [];
  for (let at = 0; at < pairs.length; at += hexBytesPerLine) {
    lines.push(pairs.slice(at, at + hexBytesPerLine).join(" "));
  }
  return stringify([{ name, hex: `${lines.join("\n")}\n`, expect: observed }], { lineWidth: 0 });
}
